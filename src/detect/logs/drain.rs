//! Drain-style online template miner (He et al., ICWS 2017; the Drain3 variant).
//!
//! Per service, a fixed-depth prefix tree routes a masked line by its token count, then by its
//! first `depth − 3` tokens, never by the last one (Drain3 counts the length level as depth 1
//! and the leaf as the last level: depth 4 routes by one token). Tokens holding digits, and
//! tokens beyond `max_children` at a node, go to the wildcard child. The leaf's clusters are compared by the share of positions whose
//! tokens are equal (template wildcards do not count as similar); the best cluster at or above
//! `similarity` absorbs the line and its differing positions become `<*>`; otherwise the line
//! starts a new cluster.
//!
//! **Template ids** are the first 16 hex digits of SHA-256 over `service \0 first template text`
//! (the masked text of the line that created the cluster). A cluster keeps its id when its
//! template generalises, and the same input gives the same ids in every run and process.
//!
//! Speed: tokens are interned to `u32` once, so matching compares integers. The token table
//! (a `hashbrown::HashTable`) is probed with a hash computed per token word by word right after
//! the line is split (eight bytes at a time), and compares texts word-wise. A raw token
//! remembers the id of its masked form, so a raw token seen before is one hash probe and is not
//! masked again (masking is a pure function of the token, so ids, texts and clusters are the
//! same as masking every time); tokens that are nearly always unique (timestamps, durations,
//! UUIDs, decimal numbers) are not remembered. Per line the only allocations are for new
//! clusters and new tokens.
//!
//! Invariants: never panics on any input; at most `max_tokens` distinct tokens are interned,
//! later unseen tokens share an id that never equals anything, and at most `max_tokens` more
//! raw tokens are remembered (memory stays bounded on adversarial input).

use super::mask::{Mask, mask_token};
use hashbrown::HashTable;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Miner settings (defaults follow Drain3: depth 4, similarity 0.4, 100 children).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DrainConfig {
    /// Tree depth as Drain3 counts it (≥ 3; 4 routes by the first token).
    pub depth: usize,
    /// Minimum share of equal tokens for a line to join a cluster.
    pub similarity: f64,
    /// Maximum children of an inner node before tokens go to the wildcard child.
    pub max_children: usize,
    /// Maximum distinct tokens interned.
    pub max_tokens: usize,
}

impl Default for DrainConfig {
    fn default() -> Self {
        Self {
            depth: 4,
            similarity: 0.4,
            max_children: 100,
            max_tokens: 1 << 22,
        }
    }
}

/// A stable template id (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TemplateId(pub u64);

impl std::fmt::Display for TemplateId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Index of a cluster inside a [`Drain`] (dense, in creation order).
pub type ClusterIndex = usize;

/// One template cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// Stable id.
    pub id: TemplateId,
    /// Service the cluster belongs to.
    pub service: String,
    /// Template tokens (interned; [`WILDCARD`] for `<*>`).
    pub tokens: Vec<u32>,
    /// Lines absorbed.
    pub size: u64,
}

/// The interned id of `<*>`.
pub const WILDCARD: u32 = 0;
const OVERFLOW: u32 = u32::MAX;

#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0_u8; 8];
            word.copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
        for &byte in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(byte)).wrapping_mul(K);
        }
    }
    fn write_u32(&mut self, value: u32) {
        self.write_u64(u64::from(value));
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_usize(&mut self, value: usize) {
        self.write_u64(value as u64);
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// One entry of the token table, keyed by a token text. The text can play two roles: a
/// dictionary text (a masked token; `id` is its interned id) and a raw token seen in a line
/// (`raw` is the id of its masked form, so the raw text maps to it without running the masker
/// again: masking is a pure function of the token). Either field may be [`UNSET`].
#[derive(Debug)]
struct Slot {
    hash: u64,
    text: Box<str>,
    id: u32,
    raw: u32,
}

/// Neither an id nor [`OVERFLOW`]: the field of a [`Slot`] is not known yet.
const UNSET: u32 = u32::MAX - 1;

/// The 64-bit little-endian word at `b[i..i + 8]` (callers keep `i + 8 <= b.len()`).
fn word(b: &[u8], i: usize) -> u64 {
    let mut w = [0_u8; 8];
    w.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(w)
}

/// The 32-bit little-endian word at `b[i..i + 4]` (callers keep `i + 4 <= b.len()`).
fn half(b: &[u8], i: usize) -> u64 {
    let mut w = [0_u8; 4];
    w.copy_from_slice(&b[i..i + 4]);
    u64::from(u32::from_le_bytes(w))
}

/// 64 × 64 → 128-bit multiply, folded (the mixing step of foldhash / wyhash).
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    #[allow(clippy::cast_possible_truncation)]
    let low = product as u64;
    low ^ (product >> 64) as u64
}

/// A fast hash of a token's bytes: whole words, the tail as one overlapping word.
fn hash_token(b: &[u8]) -> u64 {
    const K0: u64 = 0x243f_6a88_85a3_08d3;
    const K1: u64 = 0x9e37_79b9_7f4a_7c15;
    let n = b.len();
    let mut h = K0 ^ n as u64;
    if n >= 8 {
        let mut i = 0;
        while i + 8 < n {
            h = fold(h ^ word(b, i), K1);
            i += 8;
        }
        h = fold(h ^ word(b, n - 8), K1);
    } else if n >= 4 {
        h = fold(h ^ half(b, 0) ^ (half(b, n - 4) << 32), K1);
    } else if n > 0 {
        let v = u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16;
        h = fold(h ^ v, K1);
    }
    fold(h, K0)
}

/// Byte equality of two tokens, word by word (tokens are short; no call into `memcmp`).
fn same_token(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n >= 8 {
        let mut i = 0;
        while i + 8 < n {
            if word(a, i) != word(b, i) {
                return false;
            }
            i += 8;
        }
        word(a, n - 8) == word(b, n - 8)
    } else if n >= 4 {
        half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4)
    } else {
        // 0 to 3 bytes: positions 0, n / 2 and n − 1 cover them all.
        n == 0 || a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]
    }
}

/// `split_ascii_whitespace` by byte ranges, eight bytes at a time: calls `each(start, end)` for
/// every maximal run of bytes that are not ASCII whitespace (space, `\t`, `\n`, `\x0c`, `\r`).
fn split_ranges(b: &[u8], mut each: impl FnMut(usize, usize)) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let n = b.len();
    let mut i = 0;
    loop {
        while i < n && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return;
        }
        let start = i;
        i += 1;
        // The first byte ≤ 0x20 of each word is found exactly (borrows only reach higher
        // bytes); it ends the token if it is whitespace.
        loop {
            if i + 8 <= n {
                let w = word(b, i);
                let low = w.wrapping_sub(ONES * 0x21) & !w & HIGH;
                if low == 0 {
                    i += 8;
                    continue;
                }
                i += (low.trailing_zeros() / 8) as usize;
                if b[i].is_ascii_whitespace() {
                    break;
                }
                i += 1;
            } else {
                while i < n && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                break;
            }
        }
        each(start, i);
    }
}

/// One service's tree: token count → first level.
#[derive(Debug)]
struct Root {
    hash: u64,
    service: Box<str>,
    by_len: FxMap<usize, Node>,
}

#[derive(Debug, Default)]
struct Node {
    children: FxMap<u32, Node>,
    clusters: Vec<ClusterIndex>,
}

/// Whether a raw token is likely to occur again, so that remembering its masked form pays:
/// timestamps, durations, UUIDs and decimal numbers are mostly unique per line and are masked
/// each time instead (either way the result is the same).
fn worth_remembering(mask: Option<Mask>, token: &str) -> bool {
    match mask {
        None | Some(Mask::Ip | Mask::Path | Mask::Url | Mask::Email | Mask::Hex) => true,
        Some(Mask::Num) => !token.contains('.'),
        Some(Mask::Ts | Mask::Dur | Mask::Uuid) => false,
    }
}

/// The online miner for all services.
#[derive(Debug)]
pub struct Drain {
    config: DrainConfig,
    /// token text → its dictionary id and, once seen in a line, the id its raw form maps to;
    /// id 0 is `<*>`.
    interned: HashTable<Slot>,
    /// Entries that are only raw tokens (bounded by `max_tokens`, like the dictionary).
    raw_only: usize,
    texts: Vec<Box<str>>,
    has_digit: Vec<bool>,
    /// service → token count → tree.
    roots: HashTable<Root>,
    clusters: Vec<Cluster>,
    line_tokens: Vec<u32>,
    buffer: String,
}

impl Default for Drain {
    fn default() -> Self {
        Self::new(DrainConfig::default())
    }
}

impl Drain {
    /// An empty miner.
    #[must_use]
    pub fn new(config: DrainConfig) -> Self {
        let mut drain = Self {
            config: DrainConfig {
                depth: config.depth.max(3),
                ..config
            },
            interned: HashTable::new(),
            raw_only: 0,
            texts: Vec::new(),
            has_digit: Vec::new(),
            roots: HashTable::new(),
            clusters: Vec::new(),
            line_tokens: Vec::new(),
            buffer: String::new(),
        };
        drain.intern_text("<*>");
        drain
    }

    fn find(&self, hash: u64, text: &[u8]) -> Option<&Slot> {
        self.interned.find(hash, |slot| {
            slot.hash == hash && same_token(slot.text.as_bytes(), text)
        })
    }

    fn find_mut(&mut self, hash: u64, text: &str) -> Option<&mut Slot> {
        self.interned.find_mut(hash, |slot| {
            slot.hash == hash && same_token(slot.text.as_bytes(), text.as_bytes())
        })
    }

    fn insert(&mut self, hash: u64, text: &str, id: u32, raw: u32) {
        self.interned.insert_unique(
            hash,
            Slot {
                hash,
                text: text.into(),
                id,
                raw,
            },
            |slot| slot.hash,
        );
    }

    fn intern_text(&mut self, text: &str) -> u32 {
        let hash = hash_token(text.as_bytes());
        if let Some(slot) = self.find(hash, text.as_bytes())
            && slot.id != UNSET
        {
            return slot.id;
        }
        if self.texts.len() >= self.config.max_tokens.max(1) {
            return OVERFLOW;
        }
        let id = u32::try_from(self.texts.len()).unwrap_or(OVERFLOW);
        if id >= UNSET {
            return OVERFLOW;
        }
        if let Some(slot) = self.find_mut(hash, text) {
            slot.id = id;
            self.raw_only -= 1;
        } else {
            self.insert(hash, text, id, UNSET);
        }
        self.texts.push(text.into());
        self.has_digit
            .push(text.bytes().any(|b| b.is_ascii_digit()));
        id
    }

    /// Remembers that the raw token `token` (of hash `hash`) maps to `id` (bounded: past
    /// `max_tokens` raw-only entries, new raw tokens are masked again each time they occur).
    fn remember_raw(&mut self, hash: u64, token: &str, id: u32) {
        if let Some(slot) = self.find_mut(hash, token) {
            slot.raw = id;
        } else if self.raw_only < self.config.max_tokens.max(1) {
            self.insert(hash, token, UNSET, id);
            self.raw_only += 1;
        }
    }

    /// The text of an interned token.
    #[must_use]
    pub fn token_text(&self, token: u32) -> &str {
        self.texts.get(token as usize).map_or("<?>", |t| t)
    }

    /// All clusters, in creation order.
    #[must_use]
    pub fn clusters(&self) -> &[Cluster] {
        &self.clusters
    }

    /// The cluster at `index`.
    #[must_use]
    pub fn cluster(&self, index: ClusterIndex) -> Option<&Cluster> {
        self.clusters.get(index)
    }

    /// The template text of a cluster (tokens joined by spaces).
    #[must_use]
    pub fn template_text(&self, index: ClusterIndex) -> String {
        self.clusters
            .get(index)
            .map(|cluster| self.render(&cluster.tokens))
            .unwrap_or_default()
    }

    fn render(&self, tokens: &[u32]) -> String {
        let mut out = String::new();
        for (i, &token) in tokens.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(self.token_text(token));
        }
        out
    }

    fn tokenize(&mut self, line: &str) {
        let mut tokens = std::mem::take(&mut self.line_tokens);
        let mut buffer = std::mem::take(&mut self.buffer);
        tokens.clear();
        split_ranges(line.as_bytes(), |start, end| {
            let bytes = &line.as_bytes()[start..end];
            let hash = hash_token(bytes);
            if let Some(slot) = self.find(hash, bytes)
                && slot.raw != UNSET
            {
                tokens.push(slot.raw);
                return;
            }
            // Token bounds are ASCII whitespace or the line's ends: char boundaries.
            let token = line.get(start..end).unwrap_or_default();
            let mask = mask_token(token, &mut buffer);
            let id = if mask.is_none() {
                self.intern_text(token)
            } else {
                self.intern_text(&buffer)
            };
            if worth_remembering(mask, token) {
                self.remember_raw(hash, token, id);
            }
            tokens.push(id);
        });
        self.line_tokens = tokens;
        self.buffer = buffer;
    }

    /// Mines one line of `service`; returns the cluster it joined or created.
    pub fn add(&mut self, service: &str, line: &str) -> ClusterIndex {
        self.tokenize(line);
        let tokens = std::mem::take(&mut self.line_tokens);
        let index = self.add_tokens(service, &tokens);
        self.line_tokens = tokens;
        index
    }

    /// Finds the cluster a line would join, without learning.
    pub fn match_line(&mut self, service: &str, line: &str) -> Option<ClusterIndex> {
        self.tokenize(line);
        let tokens = std::mem::take(&mut self.line_tokens);
        let found = self.root(service).and_then(|root| {
            let leaf = Self::search(root, &tokens, self.config.depth)?;
            self.best_cluster(&leaf.clusters, &tokens)
        });
        self.line_tokens = tokens;
        found
    }

    fn root(&self, service: &str) -> Option<&FxMap<usize, Node>> {
        let hash = hash_token(service.as_bytes());
        self.roots
            .find(hash, |root| {
                root.hash == hash && same_token(root.service.as_bytes(), service.as_bytes())
            })
            .map(|root| &root.by_len)
    }

    /// Tokens used for routing: Drain3's `max_node_depth − 1`, and never the last token.
    fn routing(depth: usize, n_tokens: usize) -> usize {
        (depth - 3).min(n_tokens.saturating_sub(1))
    }

    fn search<'t>(root: &'t FxMap<usize, Node>, tokens: &[u32], depth: usize) -> Option<&'t Node> {
        let mut node = root.get(&tokens.len())?;
        for &token in tokens.iter().take(Self::routing(depth, tokens.len())) {
            node = node
                .children
                .get(&token)
                .or_else(|| node.children.get(&WILDCARD))?;
        }
        Some(node)
    }

    /// Drain3's `fast_match`: highest similarity, ties to the most wildcards. Candidates have
    /// the line's token count, so similarity order is the order of equal-token counts; the
    /// share is computed once, for the threshold.
    fn best_cluster(&self, candidates: &[ClusterIndex], tokens: &[u32]) -> Option<ClusterIndex> {
        let mut best: Option<(ClusterIndex, usize, usize)> = None;
        for &index in candidates {
            let cluster = &self.clusters[index];
            if cluster.tokens.len() != tokens.len() {
                continue;
            }
            let mut equal = 0_usize;
            let mut wildcards = 0_usize;
            for (&t, &l) in cluster.tokens.iter().zip(tokens) {
                if t == WILDCARD {
                    wildcards += 1;
                } else if t == l && t != OVERFLOW {
                    equal += 1;
                }
            }
            let better = best.is_none_or(|(_, e, w)| equal > e || equal == e && wildcards > w);
            if better {
                best = Some((index, equal, wildcards));
            }
        }
        let (index, equal, _) = best?;
        #[allow(clippy::cast_precision_loss)]
        let similarity = if tokens.is_empty() {
            1.0
        } else {
            equal as f64 / tokens.len() as f64
        };
        (similarity >= self.config.similarity).then_some(index)
    }

    fn add_tokens(&mut self, service: &str, tokens: &[u32]) -> ClusterIndex {
        let depth = self.config.depth;
        if let Some(root) = self.root(service)
            && let Some(leaf) = Self::search(root, tokens, depth)
            && let Some(index) = self.best_cluster(&leaf.clusters, tokens)
        {
            let cluster = &mut self.clusters[index];
            for (t, &l) in cluster.tokens.iter_mut().zip(tokens) {
                if *t != l || l == OVERFLOW {
                    *t = WILDCARD;
                }
            }
            cluster.size += 1;
            return index;
        }
        let index = self.clusters.len();
        let text = self.render(tokens);
        let mut hasher = Sha256::new();
        hasher.update(service.as_bytes());
        hasher.update([0]);
        hasher.update(text.as_bytes());
        let digest = hasher.finalize();
        let mut first = [0_u8; 8];
        first.copy_from_slice(&digest[..8]);
        self.clusters.push(Cluster {
            id: TemplateId(u64::from_be_bytes(first)),
            service: service.to_owned(),
            tokens: tokens.to_vec(),
            size: 1,
        });
        let max_children = self.config.max_children.max(1);
        let has_digit = &self.has_digit;
        let hash = hash_token(service.as_bytes());
        let root = match self.roots.find_entry(hash, |root| {
            root.hash == hash && same_token(root.service.as_bytes(), service.as_bytes())
        }) {
            Ok(entry) => entry.into_mut(),
            Err(absent) => absent
                .into_table()
                .insert_unique(
                    hash,
                    Root {
                        hash,
                        service: service.into(),
                        by_len: FxMap::default(),
                    },
                    |root| root.hash,
                )
                .into_mut(),
        };
        let mut node = root.by_len.entry(tokens.len()).or_default();
        for &token in tokens.iter().take(Self::routing(depth, tokens.len())) {
            let digit = token == OVERFLOW || has_digit.get(token as usize).copied().unwrap_or(true);
            let key = if node.children.contains_key(&token) {
                token
            } else if digit || node.children.len() + 1 >= max_children {
                // Drain3 keeps the last slot for the wildcard child.
                WILDCARD
            } else {
                token
            };
            node = node.children.entry(key).or_default();
        }
        node.clusters.push(index);
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mine(lines: &[&str]) -> (Drain, Vec<ClusterIndex>) {
        let mut drain = Drain::default();
        let indices = lines.iter().map(|l| drain.add("svc", l)).collect();
        (drain, indices)
    }

    #[test]
    fn splitting_matches_split_ascii_whitespace_on_any_text() {
        // Deterministic pseudo-random texts over whitespace, control bytes, ASCII and
        // multi-byte UTF-8, long enough to cross the eight-byte steps at every offset.
        let alphabet: Vec<char> = " \t\n\r\x0c\x0b\x00\x1f!az09[]=é€😀\u{85}\u{a0}"
            .chars()
            .collect();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..3_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = usize::try_from(state % 40).unwrap_or(0);
            let text: String = (0..len)
                .map(|k| {
                    let r = state.rotate_left(u32::try_from(k).unwrap_or(0) * 5 % 64);
                    alphabet[usize::try_from(r % alphabet.len() as u64).unwrap_or(0)]
                })
                .collect();
            let mut ours = Vec::new();
            split_ranges(text.as_bytes(), |start, end| ours.push(&text[start..end]));
            let std: Vec<&str> = text.split_ascii_whitespace().collect();
            assert_eq!(ours, std, "{text:?}");
        }
    }

    #[test]
    fn groups_lines_that_differ_in_variables() {
        let (drain, ids) = mine(&[
            "Connected to db at 10.0.0.1:5432 in 12ms",
            "Connected to db at 10.0.0.2:5432 in 7ms",
            "user alice logged in",
            "user bob logged in",
            "Disk /var/data/db is full",
        ]);
        assert_eq!(ids, vec![0, 0, 1, 1, 2]);
        assert_eq!(drain.template_text(0), "Connected to db at <IP> in <DUR>");
        assert_eq!(drain.template_text(1), "user <*> logged in");
        assert_eq!(drain.template_text(2), "Disk <PATH> is full");
        assert_eq!(drain.clusters()[1].size, 2);
    }

    #[test]
    fn respects_the_similarity_threshold() {
        // 1 of 4 tokens equal = 0.25 < 0.4 → separate; 3 of 4 → same.
        let (_, ids) = mine(&["a b c d", "a x y z", "a b c q"]);
        assert_eq!(ids, vec![0, 1, 0]);
        let mut strict = Drain::new(DrainConfig {
            similarity: 0.9,
            ..DrainConfig::default()
        });
        assert_eq!(strict.add("s", "a b c d"), 0);
        assert_eq!(strict.add("s", "a b c q"), 1);
    }

    #[test]
    fn ids_are_stable_when_a_template_generalises() {
        let (drain, _) = mine(&["user alice logged in"]);
        let before = drain.clusters()[0].id;
        let (drain, _) = mine(&["user alice logged in", "user bob logged in"]);
        assert_eq!(drain.clusters()[0].id, before);
        assert_eq!(drain.template_text(0), "user <*> logged in");
        assert_eq!(before.to_string().len(), 16);
        // Same service + first text → same id in another miner; another service differs.
        let mut other = Drain::default();
        let index = other.add("other", "user alice logged in");
        assert_ne!(other.clusters()[index].id, before);
    }

    #[test]
    fn services_have_separate_trees() {
        let mut drain = Drain::default();
        let a = drain.add("a", "GET /orders 200");
        let b = drain.add("b", "GET /orders 200");
        assert_ne!(a, b);
        assert_eq!(drain.match_line("a", "GET /orders 404"), Some(a));
        assert_eq!(drain.match_line("c", "GET /orders 404"), None);
    }

    #[test]
    fn tokens_with_digits_route_to_the_wildcard_child() {
        // `conn12` and `conn13` hold digits: both lines reach the same leaf and merge.
        let (drain, ids) = mine(&["conn12 end connection", "conn13 end connection"]);
        assert_eq!(ids, vec![0, 0]);
        assert_eq!(drain.template_text(0), "<*> end connection");
    }

    #[test]
    fn max_children_overflows_to_the_wildcard() {
        let mut drain = Drain::new(DrainConfig {
            max_children: 3,
            ..DrainConfig::default()
        });
        for word in ["alpha", "beta", "gamma", "delta", "epsilon"] {
            drain.add("s", &format!("{word} started ok now"));
        }
        // alpha and beta get their own children; the rest share the wildcard child and merge.
        assert_eq!(drain.clusters().len(), 3);
        assert_eq!(drain.template_text(2), "<*> started ok now");
        assert_eq!(drain.clusters()[2].size, 3);
    }

    #[test]
    fn empty_and_whitespace_lines_form_one_cluster() {
        let (drain, ids) = mine(&["", "   ", "\t"]);
        assert_eq!(ids, vec![0, 0, 0]);
        assert_eq!(drain.template_text(0), "");
    }

    #[test]
    fn the_token_budget_bounds_memory() {
        let mut drain = Drain::new(DrainConfig {
            max_tokens: 4,
            ..DrainConfig::default()
        });
        for i in 0..50 {
            drain.add("s", &format!("word{i}x alpha{i}y"));
        }
        assert!(drain.texts.len() <= 4);
        assert!(drain.interned.len() <= 8);
    }

    #[test]
    fn remembered_raw_tokens_mine_like_fresh_ones() {
        // Each line twice: the second time every raw token comes from the table.
        let lines = [
            "GET /carts/57a9/items 200 from 10.0.0.1:8080 user=alice",
            "GET /carts/57b0/items 503 from 10.0.0.2:8080 user=bob",
            "retry 3 of 5 for 0x7fff5a",
        ];
        let mut twice = Drain::default();
        let mut once = Drain::default();
        for line in lines {
            let first = twice.add("s", line);
            assert_eq!(twice.add("s", line), first);
            assert_eq!(once.add("s", line), first);
        }
        assert_eq!(twice.clusters().len(), once.clusters().len());
        for index in 0..once.clusters().len() {
            assert_eq!(twice.template_text(index), once.template_text(index));
            assert_eq!(twice.clusters()[index].id, once.clusters()[index].id);
        }
        assert_eq!(twice.template_text(0), "GET <PATH> <NUM> from <IP> <*>");
    }
}
