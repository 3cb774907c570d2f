//! Exact BM25 top-k over the tantivy index, term at a time (adapter: tantivy's postings).
//!
//! The same ranking as a flat `BooleanQuery` of `TermQuery`s collected by `TopDocs` (the same
//! [`Bm25Weight`] per term, summed per document, ties by ascending `DocAddress`), computed
//! differently: each term's postings are read block by block once and added into one dense
//! score array per segment, then the best `limit` are picked. A knowledge base's query is long
//! and made of words that are in most postmortems (`error`, `latency`, service names), where
//! block-max WAND can prune little and pays a heap and a seek per posting; here a posting costs
//! one fieldnorm lookup and one add. Repeated query terms are scored once with their count as a
//! boost, as the repeats of a boolean query would add up.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use tantivy::query::Bm25Weight;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, Score, Searcher, Term};

/// One scored document (a min-heap entry: the worst of the kept ones on top).
#[derive(Debug, Clone, Copy)]
struct Scored {
    score: Score,
    address: DocAddress,
}

impl Scored {
    /// Better first: higher score, then lower address.
    fn better(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then_with(|| self.address.cmp(&other.address))
    }
}

impl PartialEq for Scored {
    fn eq(&self, other: &Self) -> bool {
        self.better(other) == Ordering::Equal
    }
}

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    /// The heap's greatest is the worst kept document.
    fn cmp(&self, other: &Self) -> Ordering {
        self.better(other)
    }
}

/// The `limit` best documents for the disjunction of `terms` (each with how many times the
/// query repeats it), best first, as `(score, address)`; deleted documents left out.
///
/// # Errors
/// Index read errors.
pub fn top_docs(
    searcher: &Searcher,
    terms: &[(Term, u32)],
    limit: usize,
) -> tantivy::Result<Vec<(Score, DocAddress)>> {
    if limit == 0 || terms.is_empty() {
        return Ok(Vec::new());
    }
    let mut weights = Vec::with_capacity(terms.len());
    for (term, count) in terms {
        #[allow(clippy::cast_precision_loss)]
        let boost = *count as Score;
        weights.push(Bm25Weight::for_terms(searcher, std::slice::from_ref(term))?.boost_by(boost));
    }
    let mut kept: BinaryHeap<Scored> = BinaryHeap::with_capacity(limit + 1);
    let mut scores: Vec<Score> = Vec::new();
    for (segment_ord, segment) in searcher.segment_readers().iter().enumerate() {
        let segment_ord = u32::try_from(segment_ord)
            .map_err(|_| tantivy::TantivyError::InternalError("too many segments".into()))?;
        scores.clear();
        scores.resize(segment.max_doc() as usize, 0.0);
        for ((term, _), weight) in terms.iter().zip(&weights) {
            let field = term.field();
            let inverted = segment.inverted_index(field)?;
            let Some(mut postings) =
                inverted.read_block_postings(term, IndexRecordOption::WithFreqs)?
            else {
                continue;
            };
            let norms = segment.get_fieldnorms_reader(field)?;
            loop {
                let docs = postings.docs();
                if docs.is_empty() {
                    break;
                }
                for (doc, freq) in docs.iter().zip(postings.freqs()) {
                    if let Some(score) = scores.get_mut(*doc as usize) {
                        *score += weight.score(norms.fieldnorm_id(*doc), *freq);
                    }
                }
                postings.advance();
            }
        }
        let alive = segment.alive_bitset();
        for (doc, score) in scores.iter().enumerate() {
            // Every matching document scores above zero (a term's IDF is positive).
            if *score <= 0.0 {
                continue;
            }
            let Ok(doc) = u32::try_from(doc) else {
                break;
            };
            if alive.is_some_and(|alive| !alive.is_alive(doc)) {
                continue;
            }
            let candidate = Scored {
                score: *score,
                address: DocAddress::new(segment_ord, doc),
            };
            if kept.len() < limit {
                kept.push(candidate);
            } else if kept
                .peek()
                .is_some_and(|worst| candidate.better(worst) == Ordering::Less)
            {
                kept.pop();
                kept.push(candidate);
            }
        }
    }
    Ok(kept
        .into_sorted_vec()
        .into_iter()
        .map(|scored| (scored.score, scored.address))
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tantivy::collector::TopDocs;
    use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
    use tantivy::schema::{Schema, TEXT};
    use tantivy::{Index, TantivyDocument};

    const WORDS: [&str; 12] = [
        "error", "latency", "carts", "orders", "timeout", "refused", "disk", "memory", "db",
        "queue", "payment", "503",
    ];

    /// An index of `docs` pseudo-random documents in two fields over a few segments, some
    /// deleted.
    fn index(docs: usize) -> (Index, [tantivy::schema::Field; 2]) {
        let mut schema = Schema::builder();
        let title = schema.add_text_field("title", TEXT);
        let body = schema.add_text_field("body", TEXT);
        let index = Index::create_in_ram(schema.build());
        let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
        let mut state = 7_u64;
        let mut next = |n: usize| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(state >> 33).unwrap() % n
        };
        for i in 0..docs {
            let mut doc = TantivyDocument::default();
            let words = |count: usize, next: &mut dyn FnMut(usize) -> usize| {
                (0..count)
                    .map(|_| WORDS[next(WORDS.len())])
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let length = 1 + next(3);
            doc.add_text(title, words(length, &mut next));
            let length = 3 + next(40);
            doc.add_text(body, format!("doc{i} {}", words(length, &mut next)));
            writer.add_document(doc).unwrap();
            if i % 300 == 299 {
                writer.commit().unwrap();
            }
        }
        for i in (0..docs).step_by(17) {
            writer.delete_term(Term::from_field_text(body, &format!("doc{i}")));
        }
        writer.commit().unwrap();
        (index, [title, body])
    }

    fn boolean(terms: &[(Term, u32)]) -> BooleanQuery {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (term, count) in terms {
            for _ in 0..*count {
                clauses.push((
                    Occur::Should,
                    Box::new(TermQuery::new(term.clone(), IndexRecordOption::WithFreqs)),
                ));
            }
        }
        BooleanQuery::new(clauses)
    }

    #[test]
    fn ranks_as_the_boolean_query_of_term_queries_does() {
        let (index, [title, body]) = index(1_000);
        let searcher = index.reader().unwrap().searcher();
        assert!(searcher.segment_readers().len() > 1);
        let queries: Vec<Vec<(Term, u32)>> = vec![
            vec![(Term::from_field_text(body, "error"), 1)],
            vec![
                (Term::from_field_text(title, "carts"), 1),
                (Term::from_field_text(body, "carts"), 1),
                (Term::from_field_text(body, "latency"), 2),
                (Term::from_field_text(body, "db"), 3),
                (Term::from_field_text(title, "never-indexed"), 1),
            ],
            WORDS
                .iter()
                .flat_map(|w| {
                    [
                        (Term::from_field_text(title, w), 1),
                        (Term::from_field_text(body, w), 1),
                    ]
                })
                .collect(),
        ];
        for terms in &queries {
            for limit in [1, 10, 50] {
                let ours = top_docs(&searcher, terms, limit).unwrap();
                let theirs = searcher
                    .search(
                        &boolean(terms),
                        &TopDocs::with_limit(limit).order_by_score(),
                    )
                    .unwrap();
                assert_eq!(ours.len(), theirs.len());
                // Position by position the same score (up to the order of the sum), so where
                // the addresses differ, the two documents tie.
                for (ours, theirs) in ours.iter().zip(&theirs) {
                    assert!(
                        (ours.0 - theirs.0).abs() <= 1e-5 * theirs.0,
                        "{ours:?} vs {theirs:?}"
                    );
                }
                let next = searcher
                    .search(
                        &boolean(terms),
                        &TopDocs::with_limit(limit + 1).order_by_score(),
                    )
                    .unwrap()
                    .get(limit)
                    .map(|hit| hit.0);
                let cut_is_a_tie = match (theirs.last(), next) {
                    (Some(last), Some(next)) => (last.0 - next).abs() <= 1e-5 * last.0,
                    _ => false,
                };
                if !cut_is_a_tie {
                    let ids = |hits: &[(Score, DocAddress)]| {
                        let mut ids: Vec<DocAddress> = hits.iter().map(|h| h.1).collect();
                        ids.sort();
                        ids
                    };
                    assert_eq!(ids(&ours), ids(&theirs));
                }
            }
        }
    }

    #[test]
    fn deleted_documents_and_missing_terms_are_not_returned() {
        let (index, [_, body]) = index(400);
        let searcher = index.reader().unwrap().searcher();
        // doc0 was deleted (every 17th is), doc1 was not.
        let deleted = top_docs(&searcher, &[(Term::from_field_text(body, "doc0"), 1)], 5).unwrap();
        assert!(deleted.is_empty());
        let kept = top_docs(&searcher, &[(Term::from_field_text(body, "doc1"), 1)], 5).unwrap();
        assert_eq!(kept.len(), 1);
        assert!(kept[0].0 > 0.0);
        assert!(
            top_docs(&searcher, &[(Term::from_field_text(body, "absent"), 1)], 5)
                .unwrap()
                .is_empty()
        );
        assert!(top_docs(&searcher, &[], 5).unwrap().is_empty());
    }

    #[test]
    fn a_repeated_term_counts_as_often_as_it_is_repeated() {
        let (index, [_, body]) = index(300);
        let searcher = index.reader().unwrap().searcher();
        let term = Term::from_field_text(body, "disk");
        let once = top_docs(&searcher, &[(term.clone(), 1)], 20).unwrap();
        let twice = top_docs(&searcher, &[(term, 2)], 20).unwrap();
        assert_eq!(once.len(), 20);
        for (once, twice) in once.iter().zip(&twice) {
            assert_eq!(once.1, twice.1);
            assert!((twice.0 - 2.0 * once.0).abs() <= 1e-5 * twice.0);
        }
    }
}
