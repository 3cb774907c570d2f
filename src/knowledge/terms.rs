//! Text analysis shared by the text retrievers (pure): the embedded store's tantivy index and
//! the Qdrant backend's sparse vectors split text alike. Words are runs of alphanumeric
//! characters and underscores; a word with underscores (a signal name such as
//! `latency_p99_ms`) is kept whole *and* split into its parts, so a query for `error_ratio`
//! matches the name as one term (no phrase query: the text query stays a flat disjunction of
//! terms, which block-max WAND can prune) while `error` alone still matches it. Then tokens over
//! 40 bytes are dropped, lowercased and stemmed (English Snowball), as tantivy's `en_stem`.

use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, Stemmer, TextAnalyzer, Token, TokenStream, Tokenizer,
};

/// The name the tokenizer is registered under in the tantivy index (part of the schema: an
/// index built with another tokenizer no longer matches and is rebuilt).
pub const TOKENIZER: &str = "baynet_signal_v1";

/// Splits text into words of alphanumeric characters and underscores; a word joined by
/// underscores comes whole, then part by part (module doc).
#[derive(Debug, Clone, Default)]
pub struct SignalTokenizer {
    tokens: Vec<Token>,
    fallback: Token,
}

/// The tokens of one text ([`SignalTokenizer`]).
#[derive(Debug)]
pub struct SignalTokenStream<'a> {
    tokens: &'a mut Vec<Token>,
    fallback: &'a mut Token,
    /// Tokens handed out so far (the current one is `tokens[next - 1]`).
    next: usize,
}

/// The byte ranges of the tokens of `text`, in order: each word, and after a word joined by
/// underscores each of its parts.
fn spans(text: &str, mut emit: impl FnMut(usize, usize)) {
    let word_char = |c: char| c.is_alphanumeric() || c == '_';
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if !word_char(c) {
            continue;
        }
        let mut end = start + c.len_utf8();
        while let Some(&(at, c)) = chars.peek() {
            if !word_char(c) {
                break;
            }
            end = at + c.len_utf8();
            chars.next();
        }
        let word = &text[start..end];
        let parts: Vec<(usize, usize)> = word
            .split('_')
            .scan(start, |offset, part| {
                let from = *offset;
                *offset += part.len() + 1;
                Some((from, from + part.len()))
            })
            .filter(|(from, to)| to > from)
            .collect();
        match parts.as_slice() {
            [] => {}
            [only] => emit(only.0, only.1),
            [first, .., last] => {
                // The whole name without leading or trailing underscores, then its parts.
                emit(first.0, last.1);
                for &(from, to) in &parts {
                    emit(from, to);
                }
            }
        }
    }
}

impl Tokenizer for SignalTokenizer {
    type TokenStream<'a> = SignalTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> SignalTokenStream<'a> {
        self.tokens.clear();
        let tokens = &mut self.tokens;
        spans(text, |from, to| {
            tokens.push(Token {
                offset_from: from,
                offset_to: to,
                position: tokens.len(),
                text: text[from..to].to_owned(),
                position_length: 1,
            });
        });
        SignalTokenStream {
            tokens: &mut self.tokens,
            fallback: &mut self.fallback,
            next: 0,
        }
    }
}

impl TokenStream for SignalTokenStream<'_> {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        self.next
            .checked_sub(1)
            .and_then(|at| self.tokens.get(at))
            .unwrap_or(&*self.fallback)
    }

    fn token_mut(&mut self) -> &mut Token {
        match self.next.checked_sub(1) {
            Some(at) if at < self.tokens.len() => &mut self.tokens[at],
            _ => &mut *self.fallback,
        }
    }
}

/// The analyzer of every indexed and queried text: [`SignalTokenizer`], long tokens dropped,
/// lowercased, stemmed.
#[must_use]
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SignalTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// The analysed terms of `texts`, in order.
#[must_use]
pub fn terms(texts: &[&str]) -> Vec<String> {
    let mut analyzer = analyzer();
    let mut out = Vec::new();
    for text in texts {
        let mut stream = analyzer.token_stream(text);
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Vec<String> {
        let mut tokenizer = SignalTokenizer::default();
        let mut stream = tokenizer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            let token = stream.token();
            assert_eq!(&text[token.offset_from..token.offset_to], token.text);
            out.push(token.text.clone());
        }
        out
    }

    #[test]
    fn signal_names_come_whole_and_in_parts() {
        assert_eq!(
            raw("p99: latency_p99_ms rose; carts-db _x_ __ a__b"),
            vec![
                "p99",
                "latency_p99_ms",
                "latency",
                "p99",
                "ms",
                "rose",
                "carts",
                "db",
                "x",
                "a__b",
                "a",
                "b"
            ]
        );
        assert!(raw("  ,;  ").is_empty());
        assert_eq!(raw("größe_über"), vec!["größe_über", "größe", "über"]);
        // Positions count the tokens handed out.
        let mut tokenizer = SignalTokenizer::default();
        let mut stream = tokenizer.token_stream("a_b c");
        let mut positions = Vec::new();
        while stream.advance() {
            positions.push(stream.token().position);
        }
        assert_eq!(positions, vec![0, 1, 2, 3]);
    }

    #[test]
    fn terms_are_lowercased_stemmed_and_long_ones_dropped() {
        assert_eq!(
            terms(&["Readiness probes FAILING on carts-db", "Error_Ratio"]),
            vec![
                "readi",
                "probe",
                "fail",
                "on",
                "cart",
                "db",
                "error_ratio",
                "error",
                "ratio"
            ]
        );
        assert!(terms(&[&"x".repeat(41)]).is_empty());
    }
}
