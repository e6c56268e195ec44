//! Which compose keys kleene honours, warns about or refuses, and every
//! key of the Compose Specification (a key outside it is a typo: an error
//! with a suggestion, not a warning that lets `up` run without it).

/// Service keys kleene honours.
pub const SERVICE_KEYS: &[&str] = &[
    "image",
    "build",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "volumes",
    "networks",
    "depends_on",
    "healthcheck",
    "restart",
    "user",
    "working_dir",
    "hostname",
    "labels",
    "init",
    "read_only",
    "privileged",
    "cap_add",
    "cap_drop",
    "deploy",
    "scale",
    "profiles",
    "container_name",
    "dns",
    "extra_hosts",
    "network_mode",
    "expose",
    "mem_limit",
    "cpus",
    "pids_limit",
];
/// Service keys that change what a service is, which kleene cannot run
/// without: an error, not a warning.
pub const SERVICE_REFUSED: &[(&str, &str)] = &[
    (
        "secrets",
        "secrets from external stores are not supported; mount a file with volumes: instead",
    ),
    (
        "configs",
        "configs are not supported; mount a file with volumes: instead",
    ),
    (
        "extends",
        "extends is not supported; merge files with -f instead",
    ),
    ("pid", "sharing a PID namespace is not supported"),
    ("ipc", "sharing an IPC namespace is not supported"),
    (
        "volumes_from",
        "volumes_from is not supported; name the volumes instead",
    ),
];
pub const TOP_KEYS: &[&str] = &["version", "name", "services", "networks", "volumes"];

/// Every service key of the Compose Specification.
pub const SPEC_SERVICE_KEYS: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "build",
    "cap_add",
    "cap_drop",
    "cgroup",
    "cgroup_parent",
    "command",
    "configs",
    "container_name",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpus",
    "cpuset",
    "credential_spec",
    "depends_on",
    "deploy",
    "develop",
    "device_cgroup_rules",
    "devices",
    "dns",
    "dns_opt",
    "dns_search",
    "domainname",
    "driver_opts",
    "entrypoint",
    "env_file",
    "environment",
    "expose",
    "extends",
    "external_links",
    "extra_hosts",
    "gpus",
    "group_add",
    "healthcheck",
    "hostname",
    "image",
    "init",
    "ipc",
    "isolation",
    "label_file",
    "labels",
    "links",
    "logging",
    "mac_address",
    "mem_limit",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "models",
    "network_mode",
    "networks",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "pids_limit",
    "platform",
    "ports",
    "post_start",
    "pre_stop",
    "privileged",
    "profiles",
    "provider",
    "pull_policy",
    "read_only",
    "restart",
    "runtime",
    "scale",
    "secrets",
    "security_opt",
    "shm_size",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "storage_opt",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "use_api_socket",
    "user",
    "userns_mode",
    "uts",
    "volumes",
    "volumes_from",
    "working_dir",
];

/// Every top-level key of the Compose Specification.
pub const SPEC_TOP_KEYS: &[&str] = &[
    "version", "name", "include", "services", "networks", "volumes", "secrets", "configs", "models",
];

/// ` (did you mean 'KEY'?)` for the key of `known` nearest to `key`, when
/// it is near (at most two edits); else nothing.
pub fn suggest(key: &str, known: &[&str]) -> String {
    known
        .iter()
        .map(|k| (distance(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| format!(" (did you mean '{k}'?)"))
        .unwrap_or_default()
}

/// Levenshtein distance, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("enviroment", SPEC_SERVICE_KEYS),
            " (did you mean 'environment'?)"
        );
        assert_eq!(
            suggest("servces", SPEC_TOP_KEYS),
            " (did you mean 'services'?)"
        );
        assert_eq!(suggest("zzzzzzzz", SPEC_SERVICE_KEYS), "");
        for k in SERVICE_KEYS {
            assert!(SPEC_SERVICE_KEYS.contains(k), "{k}");
        }
    }
}
