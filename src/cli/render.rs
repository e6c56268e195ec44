//! Tables and JSON for command output.

use comfy_table::{presets, ContentArrangement, Table};
use serde::Serialize;

/// Print rows under a header as a borderless table (Docker's look).
pub fn table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().map(|h| h.to_string()));
    for r in rows {
        t.add_row(r);
    }
    for line in t.to_string().lines() {
        crate::outln!("{}", line.trim_end().trim_start_matches(' '));
    }
}

pub fn json<T: Serialize>(v: &T) {
    crate::outln!("{}", serde_json::to_string_pretty(v).expect("serialisable"));
}

/// `a b c`, shortened to `width` characters for a table cell.
pub fn command(cmd: &[String], width: usize) -> String {
    let s = cmd.join(" ");
    if s.chars().count() > width {
        let cut: String = s.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        s
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Table,
    Json,
}
