//! Shell glob patterns (`*`, `?`, `[...]`, escapes), for variable
//! substitution (`${V#pat}`), COPY sources and .dockerignore.

/// A shell glob pattern (`*`, `?`, `[...]`, escapes) over characters.
pub struct Pattern {
    toks: Vec<Tok>,
}

enum Tok {
    Lit(char),
    Any,
    Star,
    Class(Vec<(char, char)>, bool),
}

impl Pattern {
    /// Does the whole of `s` match?
    pub fn matches_str(&self, s: &str) -> bool {
        self.matches(&s.chars().collect::<Vec<_>>())
    }

    /// True when the pattern has glob characters at all.
    pub fn is_glob(p: &str) -> bool {
        p.contains(['*', '?', '['])
    }

    pub fn new(p: &str, escape: char) -> Pattern {
        let c: Vec<char> = p.chars().collect();
        let mut toks = Vec::new();
        let mut i = 0;
        while i < c.len() {
            match c[i] {
                x if x == escape && i + 1 < c.len() => {
                    i += 1;
                    toks.push(Tok::Lit(c[i]));
                }
                '*' => toks.push(Tok::Star),
                '?' => toks.push(Tok::Any),
                '[' => {
                    let mut j = i + 1;
                    let neg = matches!(c.get(j), Some('!' | '^'));
                    if neg {
                        j += 1;
                    }
                    let mut ranges = Vec::new();
                    let first = j;
                    while j < c.len() && (c[j] != ']' || j == first) {
                        if j + 2 < c.len() && c[j + 1] == '-' && c[j + 2] != ']' {
                            ranges.push((c[j], c[j + 2]));
                            j += 3;
                        } else {
                            ranges.push((c[j], c[j]));
                            j += 1;
                        }
                    }
                    if j < c.len() {
                        toks.push(Tok::Class(ranges, neg));
                        i = j;
                    } else {
                        toks.push(Tok::Lit('['));
                    }
                }
                x => toks.push(Tok::Lit(x)),
            }
            i += 1;
        }
        Pattern { toks }
    }

    pub fn matches(&self, s: &[char]) -> bool {
        fn go(t: &[Tok], s: &[char]) -> bool {
            match t.first() {
                None => s.is_empty(),
                Some(Tok::Star) => (0..=s.len()).any(|k| go(&t[1..], &s[k..])),
                Some(tok) => {
                    let Some(&c) = s.first() else { return false };
                    let ok = match tok {
                        Tok::Lit(l) => *l == c,
                        Tok::Any => true,
                        Tok::Class(r, neg) => r.iter().any(|(a, b)| *a <= c && c <= *b) != *neg,
                        Tok::Star => unreachable!("handled above"),
                    };
                    ok && go(&t[1..], &s[1..])
                }
            }
        }
        go(&self.toks, s)
    }

    pub fn trim_prefix(&self, v: &str, greedy: bool) -> String {
        let c: Vec<char> = v.chars().collect();
        let mut lens: Vec<usize> = (0..=c.len()).collect();
        if greedy {
            lens.reverse();
        }
        for n in lens {
            if self.matches(&c[..n]) {
                return c[n..].iter().collect();
            }
        }
        v.to_string()
    }

    pub fn trim_suffix(&self, v: &str, greedy: bool) -> String {
        let c: Vec<char> = v.chars().collect();
        let mut starts: Vec<usize> = (0..=c.len()).collect();
        if !greedy {
            starts.reverse();
        }
        for s in starts {
            if self.matches(&c[s..]) {
                return c[..s].iter().collect();
            }
        }
        v.to_string()
    }

    /// Replace the leftmost-longest match (or every match, left to right).
    pub fn replace(&self, v: &str, with: &str, all: bool) -> String {
        if self.toks.is_empty() {
            return v.to_string();
        }
        let c: Vec<char> = v.chars().collect();
        let mut out = String::new();
        let mut i = 0;
        while i <= c.len() {
            let found = (i..=c.len())
                .rev()
                .find(|&e| e > i && self.matches(&c[i..e]));
            match found {
                Some(e) => {
                    out.push_str(with);
                    i = e;
                    if !all {
                        out.extend(&c[i..]);
                        return out;
                    }
                }
                None => {
                    if i < c.len() {
                        out.push(c[i]);
                    }
                    i += 1;
                }
            }
        }
        out
    }
}
