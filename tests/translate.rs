//! One engine: for each example Dockerfile, `klee build` and running its
//! translation with `klee script` give images with the same files, env,
//! cmd, entrypoint, user and workdir.

mod common;

use std::path::Path;

use common::{can_run, Root};

/// Everything in the image's filesystem, with contents, as a sorted listing.
fn fingerprint(r: &Root, image: &str) -> String {
    r.ok(&[
        "run", "--rm", "-u", "root", "--workdir", "/", "--entrypoint", "", image, "sh", "-c",
        "find / -xdev \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o -print | sort | while read f; do if [ -f \"$f\" ] && [ ! -L \"$f\" ]; then echo \"$f $(md5sum < \"$f\" | cut -c1-32) $(stat -c %a:%u:%g \"$f\")\"; else echo \"$f $(stat -c %F:%a:%u:%g \"$f\")\"; fi; done",
    ])
}

fn config(r: &Root, image: &str) -> serde_json::Value {
    let i = r.json(&["isi", image]);
    serde_json::json!({
        "env": i["env"], "cmd": i["cmd"], "entrypoint": i["entrypoint"],
        "user": i["user"], "workdir": i["workdir"], "labels": i["labels"],
        "exposed_ports": i["exposed_ports"],
    })
}

fn equivalent(r: &Root, dockerfile_dir: &Path, build_args: &[&str]) {
    let ctx = dockerfile_dir.to_str().unwrap();
    let mut args = vec!["build", "-q", "-t", "via-build"];
    for a in build_args {
        args.extend(["--build-arg", a]);
    }
    args.push(ctx);
    r.ok(&args);
    let script = r.path().join("translated.rhai");
    let text = r.ok(&[
        "dockerfile",
        "translate",
        dockerfile_dir.join("Dockerfile").to_str().unwrap(),
    ]);
    std::fs::write(&script, text).unwrap();
    let mut args = vec!["script", script.to_str().unwrap(), ctx, "via-script"];
    args.extend(build_args);
    r.ok(&args);
    assert_eq!(
        config(r, "via-build"),
        config(r, "via-script"),
        "{}",
        dockerfile_dir.display()
    );
    let (a, b) = (fingerprint(r, "via-build"), fingerprint(r, "via-script"));
    assert!(a.lines().count() > 10);
    assert_eq!(a, b, "{}", dockerfile_dir.display());
}

#[test]
fn dockerfiles_and_their_translations_build_the_same_image() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut dirs: Vec<_> = std::fs::read_dir(&examples)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Dockerfile").is_file())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 2, "{dirs:?}");
    for d in dirs {
        equivalent(&r, &d, &["BASE=bb"]);
    }
    // A Dockerfile with a backtick escape and ONBUILD/HEALTHCHECK.
    let other = r.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("f.txt"), "f\n").unwrap();
    std::fs::write(
        other.join("Dockerfile"),
        "# escape=`\nFROM bb\nENV A=1 B=$A`\n    C=x\nCOPY f.txt /opt/\n\nRUN echo $A$B > /opt/ab\nHEALTHCHECK CMD true\nONBUILD RUN true\nUSER user\nCMD echo hi\n",
    )
    .unwrap();
    equivalent(&r, &other, &[]);
}
