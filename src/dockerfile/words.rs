//! Word splitting as buildkit's parser does it (before any expansion):
//! builder flags at the start of an instruction, and `parseWords` for
//! ARG/ENV/LABEL, which keeps quotes and escapes in the words.

/// Split leading `--flag[=value]` words off `line`: quotes removed,
/// backslash escapes applied, `--` ends the flags. Returns (flags, rest).
pub fn extract_flags(line: &str) -> (Vec<String>, &str) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote(char),
    }
    let b: Vec<(usize, char)> = line.char_indices().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut phase = Phase::Spaces;
    let mut i = 0;
    loop {
        if i == b.len() {
            if phase != Phase::Spaces && word != "--" && (blank_ok || !word.is_empty()) {
                words.push(word);
            }
            return (words, "");
        }
        let (pos, ch) = b[i];
        match phase {
            Phase::Spaces => {
                if ch.is_whitespace() {
                    i += 1;
                    continue;
                }
                if !line[pos..].starts_with("--") {
                    return (words, &line[pos..]);
                }
                phase = Phase::Word;
                continue;
            }
            Phase::Word => {
                if ch.is_whitespace() {
                    if word == "--" {
                        return (words, line[pos..].trim_start());
                    }
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    word.clear();
                    blank_ok = false;
                    phase = Phase::Spaces;
                } else if ch == '\'' || ch == '"' {
                    phase = Phase::Quote(ch);
                    blank_ok = true;
                } else if ch == '\\' {
                    if i + 1 < b.len() {
                        i += 1;
                        word.push(b[i].1);
                    }
                } else {
                    word.push(ch);
                }
            }
            Phase::Quote(q) => {
                if ch == q {
                    phase = Phase::Word;
                } else if ch == '\\' {
                    if i + 1 < b.len() {
                        i += 1;
                        word.push(b[i].1);
                    } else {
                        phase = Phase::Word;
                    }
                } else {
                    word.push(ch);
                }
            }
        }
        i += 1;
    }
}

/// buildkit's `parseWords`: split on unquoted whitespace; quotes and escape
/// characters stay in the words.
pub fn parse_words(rest: &str, escape: char) -> Vec<String> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote(char),
    }
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut phase = Phase::Spaces;
    let mut i = 0;
    while i <= chars.len() {
        let end = i == chars.len();
        let ch = if end { '\0' } else { chars[i] };
        if phase == Phase::Spaces {
            if end {
                break;
            }
            if ch.is_whitespace() {
                i += 1;
                continue;
            }
            phase = Phase::Word;
        }
        if end {
            if blank_ok || !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            break;
        }
        match phase {
            Phase::Word => {
                if ch.is_whitespace() {
                    phase = Phase::Spaces;
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    blank_ok = false;
                    i += 1;
                    continue;
                }
                if ch == '\'' || ch == '"' {
                    phase = Phase::Quote(ch);
                    blank_ok = true;
                }
                if ch == escape {
                    if i + 1 == chars.len() {
                        i += 1;
                        continue; // an escape at the very end is dropped
                    }
                    word.push(ch);
                    i += 1;
                }
                word.push(chars[i]);
            }
            Phase::Quote(q) => {
                if ch == q {
                    phase = Phase::Word;
                }
                if ch == escape && q != '\'' {
                    if i + 1 == chars.len() {
                        phase = Phase::Word;
                        i += 1;
                        continue;
                    }
                    word.push(ch);
                    i += 1;
                }
                word.push(chars[i]);
            }
            Phase::Spaces => unreachable!("handled above"),
        }
        i += 1;
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        let cases: &[(&str, &[&str], &str)] = &[
            ("--from=build /a /b", &["--from=build"], "/a /b"),
            (
                "--chown=\"1:1\" --chmod='644' a b",
                &["--chown=1:1", "--chmod=644"],
                "a b",
            ),
            ("-- --not-a-flag x", &[], "--not-a-flag x"),
            (
                "--mount=type=cache,target=/x   echo hi",
                &["--mount=type=cache,target=/x"],
                "echo hi",
            ),
            ("echo --no", &[], "echo --no"),
            ("--a\\ b c", &["--a b"], "c"),
            ("--only", &["--only"], ""),
        ];
        for (line, flags, rest) in cases {
            let (f, r) = extract_flags(line);
            assert_eq!(&f, flags, "{line}");
            assert_eq!(r, *rest, "{line}");
        }
    }

    #[test]
    fn words_keep_quotes() {
        let w = |s: &str| parse_words(s, '\\');
        assert_eq!(
            w("a=1 b=\"x y\" c='$z q'"),
            ["a=1", "b=\"x y\"", "c='$z q'"]
        );
        assert_eq!(w("  one   two "), ["one", "two"]);
        assert_eq!(w("a\\ b c"), ["a\\ b", "c"]);
        assert_eq!(w("k=\"\""), ["k=\"\""]);
        assert_eq!(w("x\\"), ["x"]);
        assert_eq!(parse_words("a` b c", '`'), ["a` b", "c"]);
    }
}
