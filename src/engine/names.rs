//! Generated container names (`adjective_surname`, as klee and Docker do).

const ADJECTIVES: &[&str] = &[
    "admiring",
    "bold",
    "brave",
    "busy",
    "calm",
    "clever",
    "cool",
    "dazzling",
    "eager",
    "elated",
    "epic",
    "fervent",
    "focused",
    "gallant",
    "gentle",
    "happy",
    "hungry",
    "jolly",
    "keen",
    "kind",
    "lucid",
    "modest",
    "nifty",
    "optimistic",
    "quirky",
    "relaxed",
    "serene",
    "sharp",
    "stoic",
    "tender",
    "vibrant",
    "wizardly",
    "youthful",
    "zealous",
];

const SURNAMES: &[&str] = &[
    "babbage", "bohr", "curie", "darwin", "dijkstra", "einstein", "euler", "fermat", "gauss",
    "hopper", "hypatia", "kleene", "knuth", "lamarr", "lovelace", "mccarthy", "noether", "pascal",
    "ritchie", "shannon", "thompson", "turing", "wozniak", "yalow",
];

pub fn generate() -> String {
    let id = super::id::new_id();
    let n = u64::from_str_radix(&id, 16).unwrap_or(0) as usize;
    format!(
        "{}_{}",
        ADJECTIVES[n % ADJECTIVES.len()],
        SURNAMES[(n / ADJECTIVES.len()) % SURNAMES.len()]
    )
}
