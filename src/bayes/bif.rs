//! Import and export of the BIF interchange format (bnlearn repository, pgmpy).
//!
//! Accepted input: `//` and `/* */` comments, any whitespace and line breaks,
//! `network NAME { property ...; }`, `variable NAME { type discrete [ N ] { a, b };
//! property ...; }` (commas between states optional) and
//! `probability ( CHILD | P1, P2 ) { ... }` (also the old `( CHILD P1 P2 )`
//! form) whose body holds any of:
//! * `table v1, v2, ...;` for a root this is the distribution; with parents the
//!   values are child-state-major (all parent configurations for the first
//!   child state, then the second, ...; last parent fastest), as pgmpy reads it;
//! * `(s1, s2) v1, v2;` one row per parent configuration;
//! * `default v1, v2;` the row for every configuration not listed;
//! * `property ...;`
//!
//! Export writes `table` for roots and one `(states) values;` line per parent
//! configuration otherwise, numbers in shortest round-trip form, so
//! `parse(&write(&net)) == net`.
//!
//! Invariant: pure (text in, text out; no file system access).

use std::fmt::Write as _;

use super::error::BayesError;
use super::network::{Network, NetworkBuilder};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok<'a> {
    Word(&'a str),
    Sym(char),
    Str(&'a str),
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    tok: Tok<'a>,
    line: usize,
    start: usize,
}

fn err(line: usize, msg: impl Into<String>) -> BayesError {
    BayesError::Bif {
        line,
        msg: msg.into(),
    }
}

const SYMS: &str = "{}()[],;|";

fn tokenize(src: &str) -> Result<Vec<Token<'_>>, BayesError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut line) = (0usize, 1usize);
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            line += 1;
            i += 1;
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else if src[i..].starts_with("//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if src[i..].starts_with("/*") {
            let open = line;
            let end = src[i + 2..]
                .find("*/")
                .ok_or_else(|| err(open, "unterminated /* comment"))?;
            line += src[i..i + 2 + end].matches('\n').count();
            i += end + 4;
        } else if c == b'"' {
            let open = line;
            let end = src[i + 1..]
                .find('"')
                .ok_or_else(|| err(open, "unterminated string"))?;
            let s = &src[i + 1..i + 1 + end];
            out.push(Token {
                tok: Tok::Str(s),
                line,
                start: i,
            });
            line += s.matches('\n').count();
            i += end + 2;
        } else if SYMS.as_bytes().contains(&c) {
            out.push(Token {
                tok: Tok::Sym(c as char),
                line,
                start: i,
            });
            i += 1;
        } else {
            let start = i;
            while i < b.len()
                && !b[i].is_ascii_whitespace()
                && !SYMS.as_bytes().contains(&b[i])
                && b[i] != b'"'
                && !src[i..].starts_with("//")
                && !src[i..].starts_with("/*")
            {
                // advance one UTF-8 character
                i += src[i..].chars().next().map_or(1, char::len_utf8);
            }
            out.push(Token {
                tok: Tok::Word(&src[start..i]),
                line,
                start,
            });
        }
    }
    Ok(out)
}

fn describe(t: Option<&Token<'_>>) -> String {
    match t.map(|t| t.tok) {
        None => "end of input".into(),
        Some(Tok::Word(w)) => format!("`{w}`"),
        Some(Tok::Sym(c)) => format!("`{c}`"),
        Some(Tok::Str(s)) => format!("\"{s}\""),
    }
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token<'a>>,
    pos: usize,
}

struct ProbBlock<'a> {
    line: usize,
    child: &'a str,
    parents: Vec<&'a str>,
    table: Option<(usize, Vec<f64>)>,
    default: Option<(usize, Vec<f64>)>,
    rows: Vec<(usize, Vec<&'a str>, Vec<f64>)>,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Token<'a>> {
        self.toks.get(self.pos)
    }
    fn line(&self) -> usize {
        self.peek()
            .or_else(|| self.toks.last())
            .map_or(1, |t| t.line)
    }
    fn next(&mut self) -> Option<Token<'a>> {
        let t = self.toks.get(self.pos).copied();
        self.pos += 1;
        t
    }
    fn is_sym(&self, c: char) -> bool {
        matches!(self.peek(), Some(t) if t.tok == Tok::Sym(c))
    }
    fn eat_sym(&mut self, c: char) -> bool {
        let yes = self.is_sym(c);
        if yes {
            self.pos += 1;
        }
        yes
    }
    fn expect_sym(&mut self, c: char, what: &str) -> Result<(), BayesError> {
        if self.eat_sym(c) {
            Ok(())
        } else {
            Err(err(
                self.line(),
                format!("expected `{c}` {what}, found {}", describe(self.peek())),
            ))
        }
    }
    fn word(&mut self, what: &str) -> Result<&'a str, BayesError> {
        match self.peek().map(|t| t.tok) {
            Some(Tok::Word(w)) | Some(Tok::Str(w)) => {
                self.pos += 1;
                Ok(w)
            }
            _ => Err(err(
                self.line(),
                format!("expected {what}, found {}", describe(self.peek())),
            )),
        }
    }
    /// Raw text of a `property` statement up to (not including) `;`.
    fn property(&mut self) -> Result<String, BayesError> {
        let line = self.line();
        let start = self.peek().map_or(self.src.len(), |t| t.start);
        while let Some(t) = self.next() {
            if t.tok == Tok::Sym(';') {
                return Ok(self.src[start..t.start].trim().to_string());
            }
        }
        Err(err(line, "`property` is missing its terminating `;`"))
    }
    /// Numbers until `;`, commas optional.
    fn numbers(&mut self) -> Result<Vec<f64>, BayesError> {
        let mut out = Vec::new();
        loop {
            let line = self.line();
            match self.next().map(|t| t.tok) {
                Some(Tok::Sym(';')) => return Ok(out),
                Some(Tok::Sym(',')) => {}
                Some(Tok::Word(w)) => out.push(
                    w.parse::<f64>()
                        .map_err(|_| err(line, format!("expected a probability, found `{w}`")))?,
                ),
                other => {
                    let d = other.map_or("end of input".to_string(), |t| format!("{t:?}"));
                    return Err(err(
                        line,
                        format!("expected a probability or `;`, found {d}"),
                    ));
                }
            }
        }
    }
    /// Names separated by commas or whitespace until `close`.
    fn names_until(&mut self, close: char, what: &str) -> Result<Vec<&'a str>, BayesError> {
        let mut out = Vec::new();
        while !self.eat_sym(close) {
            if self.eat_sym(',') {
                continue;
            }
            out.push(self.word(what)?);
        }
        Ok(out)
    }
}

/// Parse BIF text into a validated [`Network`].
pub fn parse(src: &str) -> Result<Network, BayesError> {
    let mut p = Parser {
        src,
        toks: tokenize(src)?,
        pos: 0,
    };
    let mut b = NetworkBuilder::new("unknown");
    let mut blocks: Vec<ProbBlock<'_>> = Vec::new();
    while let Some(t) = p.next() {
        match t.tok {
            Tok::Word("network") => {
                let name = if p.is_sym('{') {
                    "unknown"
                } else {
                    p.word("network name")?
                };
                b = NetworkBuilder::new(name);
                p.expect_sym('{', "after the network name")?;
                while !p.eat_sym('}') {
                    match p.next().map(|t| t.tok) {
                        Some(Tok::Word("property")) => {
                            let text = p.property()?;
                            b.network_property(text);
                        }
                        _ => {
                            p.pos -= 1;
                            return Err(err(
                                p.line(),
                                format!(
                                    "expected `property` or `}}` in network block, found {}",
                                    describe(p.peek())
                                ),
                            ));
                        }
                    }
                }
            }
            Tok::Word("variable") => {
                let name = p.word("variable name")?;
                p.expect_sym('{', "after the variable name")?;
                let mut states: Option<Vec<&str>> = None;
                let mut props = Vec::new();
                while !p.eat_sym('}') {
                    let line = p.line();
                    match p.next().map(|t| t.tok) {
                        Some(Tok::Word("property")) => props.push(p.property()?),
                        Some(Tok::Word("type")) => {
                            let kind = p.word("variable type")?;
                            if kind != "discrete" {
                                return Err(err(
                                    line,
                                    format!(
                                        "variable `{name}`: only `discrete` variables are supported, found `{kind}`"
                                    ),
                                ));
                            }
                            p.expect_sym('[', "after `discrete`")?;
                            let nw = p.word("number of states")?;
                            let n: usize = nw.parse().map_err(|_| {
                                err(
                                    line,
                                    format!("variable `{name}`: `{nw}` is not a number of states"),
                                )
                            })?;
                            p.expect_sym(']', "after the number of states")?;
                            p.expect_sym('{', "before the state list")?;
                            let s = p.names_until('}', "state name")?;
                            p.expect_sym(';', "after the state list")?;
                            if s.len() != n {
                                return Err(err(
                                    line,
                                    format!(
                                        "variable `{name}` declares {n} states but lists {}",
                                        s.len()
                                    ),
                                ));
                            }
                            states = Some(s);
                        }
                        _ => {
                            p.pos -= 1;
                            return Err(err(
                                line,
                                format!(
                                    "variable `{name}`: expected `type`, `property` or `}}`, found {}",
                                    describe(p.peek())
                                ),
                            ));
                        }
                    }
                }
                let states = states.ok_or_else(|| {
                    err(
                        t.line,
                        format!("variable `{name}` has no `type discrete [ N ] {{ ... }};` line"),
                    )
                })?;
                b.variable(name, states.iter().copied());
                for pr in props {
                    b.variable_property(name, pr);
                }
            }
            Tok::Word("probability") => blocks.push(parse_probability(&mut p, t.line)?),
            _ => {
                return Err(err(
                    t.line,
                    format!(
                        "expected `network`, `variable` or `probability`, found {}",
                        describe(Some(&t))
                    ),
                ));
            }
        }
    }
    let (names, states) = b.declared_variables();
    let decl = Declared { names, states };
    for blk in blocks {
        let table = resolve_block(&decl, &blk)?;
        b.cpt(blk.child, blk.parents.iter().copied(), table);
    }
    b.build()
}

fn parse_probability<'a>(p: &mut Parser<'a>, line: usize) -> Result<ProbBlock<'a>, BayesError> {
    p.expect_sym('(', "after `probability`")?;
    let child = p.word("variable name")?;
    // `( child | p1, p2 )` or the old `( child p1 p2 )` form
    p.eat_sym('|');
    let parents = p.names_until(')', "parent name")?;
    let mut blk = ProbBlock {
        line,
        child,
        parents,
        table: None,
        default: None,
        rows: Vec::new(),
    };
    p.expect_sym('{', "after the probability header")?;
    while !p.eat_sym('}') {
        let l = p.line();
        match p.peek().map(|t| t.tok) {
            Some(Tok::Word("table")) => {
                p.pos += 1;
                blk.table = Some((l, p.numbers()?));
            }
            Some(Tok::Word("default")) => {
                p.pos += 1;
                blk.default = Some((l, p.numbers()?));
            }
            Some(Tok::Word("property")) => {
                p.pos += 1;
                p.property()?;
            }
            Some(Tok::Sym('(')) => {
                p.pos += 1;
                let states = p.names_until(')', "parent state")?;
                blk.rows.push((l, states, p.numbers()?));
            }
            _ => {
                return Err(err(
                    l,
                    format!(
                        "probability of `{child}`: expected `table`, `default`, `(states)` or `}}`, found {}",
                        describe(p.peek())
                    ),
                ));
            }
        }
    }
    Ok(blk)
}

/// Minimal view of declared variables used to lay out tables.
struct Declared {
    names: Vec<String>,
    states: Vec<Vec<String>>,
}

fn resolve_block(d: &Declared, blk: &ProbBlock<'_>) -> Result<Vec<f64>, BayesError> {
    let find = |name: &str| -> Result<usize, BayesError> {
        d.names.iter().position(|n| n == name).ok_or_else(|| {
            err(
                blk.line,
                format!("probability of undeclared variable `{name}`"),
            )
        })
    };
    let c = find(blk.child)?;
    let card = d.states[c].len();
    let mut pcards = Vec::with_capacity(blk.parents.len());
    let mut pids = Vec::with_capacity(blk.parents.len());
    for &pn in &blk.parents {
        let pid = d.names.iter().position(|n| n == pn).ok_or_else(|| {
            err(
                blk.line,
                format!("variable `{}`: unknown parent `{pn}`", blk.child),
            )
        })?;
        pids.push(pid);
        pcards.push(d.states[pid].len());
    }
    let rows: usize = pcards.iter().product();
    let mut table = vec![f64::NAN; rows * card];
    if let Some((l, vals)) = &blk.table {
        if vals.len() != rows * card {
            return Err(err(
                *l,
                format!(
                    "variable `{}`: table has {} entries, expected {} ({} states x {} parent configurations)",
                    blk.child,
                    vals.len(),
                    rows * card,
                    card,
                    rows
                ),
            ));
        }
        for s in 0..card {
            for r in 0..rows {
                table[r * card + s] = vals[s * rows + r];
            }
        }
    }
    for (l, states, vals) in &blk.rows {
        if states.len() != pids.len() {
            return Err(err(
                *l,
                format!(
                    "variable `{}`: row names {} parent states, expected {}",
                    blk.child,
                    states.len(),
                    pids.len()
                ),
            ));
        }
        if vals.len() != card {
            return Err(err(
                *l,
                format!(
                    "variable `{}`: row ({}) has {} probabilities, expected {card}",
                    blk.child,
                    states.join(", "),
                    vals.len()
                ),
            ));
        }
        let mut r = 0;
        for (k, (&pid, st)) in pids.iter().zip(states).enumerate() {
            let si = d.states[pid].iter().position(|x| x == st).ok_or_else(|| {
                err(
                    *l,
                    format!(
                        "variable `{}`: parent `{}` has no state `{st}`",
                        blk.child, blk.parents[k]
                    ),
                )
            })?;
            r = r * pcards[k] + si;
        }
        table[r * card..(r + 1) * card].copy_from_slice(vals);
    }
    if let Some((l, vals)) = &blk.default {
        if vals.len() != card {
            return Err(err(
                *l,
                format!(
                    "variable `{}`: default row has {} probabilities, expected {card}",
                    blk.child,
                    vals.len()
                ),
            ));
        }
        for row in table.chunks_mut(card) {
            if row[0].is_nan() {
                row.copy_from_slice(vals);
            }
        }
    }
    if let Some(r) = table
        .chunks(card)
        .position(|row| row.iter().any(|x| x.is_nan()))
    {
        let mut rest = r;
        let mut parts = vec![String::new(); pids.len()];
        for k in (0..pids.len()).rev() {
            parts[k] = format!("{}={}", blk.parents[k], d.states[pids[k]][rest % pcards[k]]);
            rest /= pcards[k];
        }
        return Err(err(
            blk.line,
            format!(
                "variable `{}`: no probabilities for parent configuration ({})",
                blk.child,
                parts.join(", ")
            ),
        ));
    }
    Ok(table)
}

fn fmt_prob(x: f64) -> String {
    if x != 0.0 && x.abs() < 1e-5 {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// Write a network as BIF text that [`parse`] reads back identically.
pub fn write(net: &Network) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "network {} {{", net.name());
    for pr in net.properties() {
        let _ = writeln!(s, "  property {pr} ;");
    }
    let _ = writeln!(s, "}}");
    for v in net.variables() {
        let _ = writeln!(s, "variable {} {{", v.name());
        let _ = writeln!(
            s,
            "  type discrete [ {} ] {{ {} }};",
            v.card(),
            v.states().join(", ")
        );
        for pr in v.properties() {
            let _ = writeln!(s, "  property {pr} ;");
        }
        let _ = writeln!(s, "}}");
    }
    let vars = net.variables();
    for (id, v) in vars.iter().enumerate() {
        let row_text = |r: usize| -> String {
            v.row(r)
                .unwrap_or(&[])
                .iter()
                .map(|&x| fmt_prob(x))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if v.parents().is_empty() {
            let _ = writeln!(s, "probability ( {} ) {{", v.name());
            let _ = writeln!(s, "  table {};", row_text(0));
        } else {
            let pn: Vec<&str> = v.parents().iter().map(|&p| vars[p].name()).collect();
            let _ = writeln!(s, "probability ( {} | {} ) {{", v.name(), pn.join(", "));
            for r in 0..v.n_rows() {
                let _ = writeln!(
                    s,
                    "  ({}) {};",
                    net.row_parent_states(id, r).join(", "),
                    row_text(r)
                );
            }
        }
        let _ = writeln!(s, "}}");
    }
    s
}
