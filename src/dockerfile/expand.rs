//! Variable expansion as buildkit's `shell.Lex` does it, in Rust: Dockerfile
//! and build-arg content is never handed to a shell on the host.
//!
//! Supports `$V`, `${V}`, `${V:-x}`, `${V-x}`, `${V:+x}`, `${V+x}`,
//! `${V?msg}`, `${V:?msg}`, `${V#p}`, `${V##p}`, `${V%p}`, `${V%%p}`,
//! `${V/p/r}`, `${V//p/r}` (shell patterns), single and double quotes, and
//! the escape token (`\` or `` ` ``).

use crate::engine::build::glob::Pattern;

/// Looks a variable up.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandError(pub String);

impl std::fmt::Display for ExpandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub struct Lexer {
    escape: char,
}

struct Words {
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn new() -> Words {
        Words {
            word: String::new(),
            words: Vec::new(),
            in_word: false,
        }
    }
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() {
            if self.in_word && !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }
    fn add_raw_char(&mut self, ch: char) {
        self.word.push(ch);
        self.in_word = true;
    }
    fn add_string(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }
    fn add_raw_string(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }
    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(std::mem::take(&mut self.word));
        }
        self.words
    }
}

struct Scan<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    env: Env<'a>,
}

impl Lexer {
    pub fn new(escape: char) -> Lexer {
        Lexer { escape }
    }

    /// The escape token (`\` or `` ` ``).
    pub fn escape(&self) -> char {
        self.escape
    }

    /// Expand one word: quotes removed, variables substituted.
    pub fn word(&self, input: &str, env: Env) -> Result<String, ExpandError> {
        self.process(input, env).map(|(w, _)| w)
    }

    /// Expand and split into words on unquoted whitespace, including
    /// whitespace that comes from unquoted variable values.
    pub fn words(&self, input: &str, env: Env) -> Result<Vec<String>, ExpandError> {
        self.process(input, env).map(|(_, ws)| ws)
    }

    fn process(&self, input: &str, env: Env) -> Result<(String, Vec<String>), ExpandError> {
        let mut s = Scan {
            chars: input.chars().collect(),
            pos: 0,
            escape: self.escape,
            env,
        };
        s.stop_on(None, false)
            .map_err(|e| ExpandError(format!("failed to process \"{input}\": {}", e.0)))
    }
}

impl Scan<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Process until `stop` (consumed) or the end. `raw_escapes` keeps escape
    /// tokens in the result (pattern operands, where they quote glob chars).
    fn stop_on(
        &mut self,
        stop: Option<&[char]>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), ExpandError> {
        let mut result = String::new();
        let mut words = Words::new();
        while let Some(ch) = self.peek() {
            if let Some(stops) = stop {
                if stops.contains(&ch) {
                    return Ok((result, words.finish()));
                }
            }
            match ch {
                '\'' => {
                    let t = self.single_quote()?;
                    result.push_str(&t);
                    words.add_raw_string(&t);
                }
                '"' => {
                    let t = self.double_quote()?;
                    result.push_str(&t);
                    words.add_raw_string(&t);
                }
                '$' => {
                    let t = self.dollar()?;
                    result.push_str(&t);
                    words.add_string(&t);
                }
                _ => {
                    self.next();
                    if ch == self.escape {
                        if raw_escapes {
                            words.add_raw_char(ch);
                            result.push(ch);
                        }
                        match self.next() {
                            None => break,
                            Some(c) => {
                                words.add_raw_char(c);
                                result.push(c);
                            }
                        }
                    } else {
                        words.add_char(ch);
                        result.push(ch);
                    }
                }
            }
        }
        if let Some(stops) = stop {
            let what = if stops.contains(&'}') {
                "}".to_string()
            } else {
                stops.iter().collect()
            };
            return Err(ExpandError(format!("syntax error: missing '{what}'")));
        }
        Ok((result, words.finish()))
    }

    fn single_quote(&mut self) -> Result<String, ExpandError> {
        self.next();
        let mut out = String::new();
        loop {
            match self.next() {
                None => {
                    return Err(ExpandError(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    ))
                }
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quote(&mut self) -> Result<String, ExpandError> {
        self.next();
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(ExpandError(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    ))
                }
                Some('"') => {
                    self.next();
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(_) => {
                    let mut ch = self.next().unwrap_or_default();
                    if ch == self.escape {
                        match self.peek() {
                            None => continue,
                            Some(c) if c == '"' || c == '$' || c == self.escape => {
                                ch = self.next().unwrap_or_default();
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(ch);
                }
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_ascii_digit() {
                while let Some(d) = self.peek().filter(|c| c.is_ascii_digit()) {
                    self.next();
                    name.push(d);
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.next();
                return ch.to_string();
            }
            if !ch.is_alphanumeric() && ch != '_' {
                break;
            }
            self.next();
            name.push(ch);
        }
        name
    }

    fn get(&self, name: &str) -> Option<String> {
        (self.env)(name)
    }

    fn dollar(&mut self) -> Result<String, ExpandError> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(self.get(&name).unwrap_or_default());
        }
        self.next();
        match self.peek() {
            None => return Err(ExpandError("syntax error: missing '}'".into())),
            Some('{' | '}' | ':') => {
                return Err(ExpandError("syntax error: bad substitution".into()))
            }
            _ => {}
        }
        let name = self.name();
        let Some(mut ch) = self.next() else {
            return Err(ExpandError("syntax error: missing '}'".into()));
        };
        let mut modifier = ch.to_string();
        match ch {
            '}' => Ok(self.get(&name).unwrap_or_default()),
            ':' | '+' | '-' | '?' | '#' | '%' => {
                let null_is_unset = ch == ':';
                if null_is_unset {
                    ch = self
                        .next()
                        .ok_or_else(|| ExpandError("syntax error: missing '}'".into()))?;
                    modifier.push(ch);
                }
                let pattern = ch == '#' || ch == '%';
                if null_is_unset && pattern {
                    return Err(ExpandError(format!(
                        "unsupported modifier ({modifier}) in substitution"
                    )));
                }
                if !matches!(ch, '+' | '-' | '?' | '#' | '%') {
                    return Err(ExpandError(format!(
                        "unsupported modifier ({modifier}) in substitution"
                    )));
                }
                let (word, _) = self.stop_on(Some(&['}']), pattern)?;
                self.next();
                let value = self.get(&name);
                let empty =
                    |v: &Option<String>| v.is_none() || (null_is_unset && v.as_deref() == Some(""));
                match ch {
                    '-' => Ok(if empty(&value) {
                        word
                    } else {
                        value.unwrap_or_default()
                    }),
                    '+' => Ok(if empty(&value) { String::new() } else { word }),
                    '?' => match value {
                        None => Err(ExpandError(format!(
                            "{name}: {}",
                            if word.is_empty() {
                                "is not allowed to be unset"
                            } else {
                                &word
                            }
                        ))),
                        Some(v) if null_is_unset && v.is_empty() => Err(ExpandError(format!(
                            "{name}: {}",
                            if word.is_empty() {
                                "is not allowed to be empty"
                            } else {
                                &word
                            }
                        ))),
                        Some(v) => Ok(v),
                    },
                    _ => {
                        let value = value.unwrap_or_default();
                        let (greedy, pat) = match word.strip_prefix(ch) {
                            Some(p) => (true, p.to_string()),
                            None => (false, word),
                        };
                        let pat = Pattern::new(&pat, self.escape);
                        Ok(if ch == '#' {
                            pat.trim_prefix(&value, greedy)
                        } else {
                            pat.trim_suffix(&value, greedy)
                        })
                    }
                }
            }
            '/' => {
                let all = self.peek() == Some('/');
                if all {
                    self.next();
                }
                let (pattern, _) = self.stop_on(Some(&['/', '}']), true)?;
                let replacement = if self.next() == Some('/') {
                    let (r, _) = self.stop_on(Some(&['}']), false)?;
                    self.next();
                    r
                } else {
                    String::new()
                };
                let value = self.get(&name).unwrap_or_default();
                Ok(Pattern::new(&pattern, self.escape).replace(&value, &replacement, all))
            }
            _ => Err(ExpandError(format!(
                "unsupported modifier ({modifier}) in substitution"
            ))),
        }
    }
}
