//! A small in-process stand-in for Qdrant's REST API (127.0.0.1, port 0): the subset Baynet's
//! backend uses — collections with a named dense multivector (`max_sim`, cosine) and a named
//! sparse vector with `modifier: "idf"`, payload indexes, points upsert / delete / scroll /
//! query with `must` / `must_not` filters (`match.value`, `match.any`, datetime `range`). It
//! answers like Qdrant (`{"result", "status", "time"}`; errors as `{"status": {"error"}}`), can
//! require an `api-key`, refuses filters on unindexed keys (as Qdrant's strict mode does), and
//! can be told to fail the next requests with a given status.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Point {
    pub dense: Vec<Vec<f32>>,
    pub sparse: Option<(Vec<u32>, Vec<f32>)>,
    pub payload: Value,
}

#[derive(Debug, Clone, Default)]
pub struct Collection {
    pub size: usize,
    pub indexes: BTreeMap<String, String>,
    pub points: BTreeMap<String, Point>,
}

#[derive(Debug, Default)]
pub struct State {
    pub api_key: Option<String>,
    pub fail_next: VecDeque<(u16, String)>,
    pub collections: BTreeMap<String, Collection>,
    /// `METHOD path?query` of every request.
    pub requests: Vec<String>,
}

pub struct FakeQdrant {
    pub url: String,
    pub state: Arc<Mutex<State>>,
    _runtime: tokio::runtime::Runtime,
}

impl FakeQdrant {
    pub fn start(api_key: Option<&str>) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            api_key: api_key.map(str::to_owned),
            ..State::default()
        }));
        let shared = state.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let shared = shared.clone();
                async move { handle(&shared, &method, &uri, &headers, &body) }
            },
        );
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            state,
            _runtime: runtime,
        }
    }

    pub fn fail_next(&self, status: u16, message: &str) {
        self.state
            .lock()
            .unwrap()
            .fail_next
            .push_back((status, message.to_owned()));
    }

    pub fn collection(&self, name: &str) -> Option<Collection> {
        self.state.lock().unwrap().collections.get(name).cloned()
    }

    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }
}

fn ok(result: Value) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        json!({"result": result, "status": "ok", "time": 0.0001}).to_string(),
    )
        .into_response()
}

fn error(status: u16, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        json!({"status": {"error": message}, "time": 0.0}).to_string(),
    )
        .into_response()
}

fn handle(
    shared: &Mutex<State>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let mut state = shared.lock().unwrap();
    state.requests.push(format!("{method} {uri}"));
    if let Some(key) = &state.api_key
        && headers.get("api-key").and_then(|v| v.to_str().ok()) != Some(key.as_str())
    {
        // Qdrant answers a missing or wrong key with plain text.
        return (
            StatusCode::UNAUTHORIZED,
            "Must provide an API key or an Authorization bearer token",
        )
            .into_response();
    }
    if let Some((status, message)) = state.fail_next.pop_front() {
        return error(status, &message);
    }
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return error(400, &format!("Format error in JSON body: {e}")),
        }
    };
    let parts: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let wait = uri.query().is_some_and(|q| q.contains("wait=true"));
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["collections", name]) => match state.collections.get(*name) {
            Some(c) => ok(json!({
                "status": "green",
                "points_count": c.points.len(),
                "config": {"params": {
                    "vectors": {"dense": {"size": c.size, "distance": "Cosine",
                                "multivector_config": {"comparator": "max_sim"}}},
                    "sparse_vectors": {"text": {"modifier": "idf"}},
                }},
                "payload_schema": c.indexes.iter().map(|(k, v)| (k.clone(), json!({"data_type": v}))).collect::<serde_json::Map<_, _>>(),
            })),
            None => error(
                404,
                &format!("Not found: Collection `{name}` doesn't exist!"),
            ),
        },
        ("PUT", ["collections", name]) => {
            if state.collections.contains_key(*name) {
                return error(
                    409,
                    &format!("Wrong input: Collection `{name}` already exists!"),
                );
            }
            let dense = &body["vectors"]["dense"];
            let Some(size) = dense["size"].as_u64() else {
                return error(400, "Wrong input: vectors.dense.size is required");
            };
            if dense["distance"] != "Cosine"
                || dense["multivector_config"]["comparator"] != "max_sim"
                || body["sparse_vectors"]["text"]["modifier"] != "idf"
            {
                return error(
                    400,
                    "Wrong input: fake supports cosine max_sim dense + idf sparse only",
                );
            }
            state.collections.insert(
                (*name).to_owned(),
                Collection {
                    size: usize::try_from(size).unwrap(),
                    ..Collection::default()
                },
            );
            ok(json!(true))
        }
        ("DELETE", ["collections", name]) => {
            if state.collections.remove(*name).is_some() {
                ok(json!(true))
            } else {
                error(
                    404,
                    &format!("Not found: Collection `{name}` doesn't exist!"),
                )
            }
        }
        (m, ["collections", name, rest @ ..]) => {
            let Some(collection) = state.collections.get_mut(*name) else {
                return error(
                    404,
                    &format!("Not found: Collection `{name}` doesn't exist!"),
                );
            };
            match (m, rest) {
                ("PUT", ["index"]) => {
                    let (Some(field), Some(schema)) =
                        (body["field_name"].as_str(), body["field_schema"].as_str())
                    else {
                        return error(400, "Wrong input: field_name and field_schema are required");
                    };
                    collection
                        .indexes
                        .insert(field.to_owned(), schema.to_owned());
                    ok(
                        json!({"operation_id": 1, "status": if wait { "completed" } else { "acknowledged" }}),
                    )
                }
                ("PUT", ["points"]) => upsert(collection, &body, wait),
                ("POST", ["points", "delete"]) => {
                    let Some(ids) = body["points"].as_array() else {
                        return error(400, "Wrong input: points is required");
                    };
                    for id in ids {
                        collection.points.remove(id.as_str().unwrap_or_default());
                    }
                    ok(
                        json!({"operation_id": 2, "status": if wait { "completed" } else { "acknowledged" }}),
                    )
                }
                ("POST", ["points", "scroll"]) => scroll(collection, &body),
                ("POST", ["points", "query"]) => query(collection, &body),
                _ => error(404, "Not found"),
            }
        }
        _ => error(404, "Not found"),
    }
}

fn is_uuid(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && id.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

fn upsert(collection: &mut Collection, body: &Value, wait: bool) -> Response {
    let Some(points) = body["points"].as_array() else {
        return error(400, "Wrong input: points is required");
    };
    let mut staged = Vec::new();
    for point in points {
        let id = point["id"].as_str().unwrap_or_default();
        if !is_uuid(id) {
            return error(400, &format!("Format error: {id} is not a valid point ID"));
        }
        let Some(dense) = point["vector"]["dense"].as_array() else {
            return error(400, "Wrong input: vector `dense` is required");
        };
        let mut vectors = Vec::new();
        for v in dense {
            let v: Vec<f32> = serde_json::from_value(v.clone()).unwrap_or_default();
            if v.len() != collection.size {
                return error(
                    400,
                    &format!(
                        "Wrong input: Vector dimension error: expected dim: {}, got {}",
                        collection.size,
                        v.len()
                    ),
                );
            }
            vectors.push(v);
        }
        let sparse = match point["vector"].get("text") {
            None => None,
            Some(s) => {
                let indices: Vec<u32> =
                    serde_json::from_value(s["indices"].clone()).unwrap_or_default();
                let values: Vec<f32> =
                    serde_json::from_value(s["values"].clone()).unwrap_or_default();
                let mut unique = indices.clone();
                unique.sort_unstable();
                unique.dedup();
                if indices.len() != values.len() || unique.len() != indices.len() {
                    return error(
                        400,
                        "Wrong input: sparse vector indices and values differ or repeat",
                    );
                }
                Some((indices, values))
            }
        };
        staged.push((
            id.to_owned(),
            Point {
                dense: vectors,
                sparse,
                payload: point["payload"].clone(),
            },
        ));
    }
    collection.points.extend(staged);
    ok(json!({"operation_id": 3, "status": if wait { "completed" } else { "acknowledged" }}))
}

fn scroll(collection: &Collection, body: &Value) -> Response {
    let limit = usize::try_from(body["limit"].as_u64().unwrap_or(10)).unwrap();
    let start = body["offset"].as_str().unwrap_or_default();
    let mut page: Vec<Value> = Vec::new();
    let mut next = Value::Null;
    for (id, point) in collection.points.range(start.to_owned()..) {
        if page.len() == limit {
            next = json!(id);
            break;
        }
        let payload = if body["with_payload"] == true {
            point.payload.clone()
        } else {
            Value::Null
        };
        page.push(json!({"id": id, "payload": payload}));
    }
    ok(json!({"points": page, "next_page_offset": next}))
}

fn epoch(v: &Value) -> Option<i64> {
    v.as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp())
}

fn condition_holds(payload: &Value, condition: &Value) -> bool {
    let key = condition["key"].as_str().unwrap_or_default();
    let field = &payload[key];
    let has = |wanted: &Value| match field {
        Value::Array(items) => items.contains(wanted),
        other => other == wanted,
    };
    if let Some(m) = condition.get("match") {
        if let Some(value) = m.get("value") {
            return has(value);
        }
        if let Some(any) = m.get("any").and_then(Value::as_array) {
            return any.iter().any(has);
        }
        return false;
    }
    if let Some(range) = condition.get("range") {
        let Some(at) = epoch(field) else { return false };
        let ok = |op: &str, f: fn(i64, i64) -> bool| {
            range.get(op).and_then(epoch).is_none_or(|b| f(at, b))
        };
        return ok("gte", |a, b| a >= b)
            && ok("gt", |a, b| a > b)
            && ok("lte", |a, b| a <= b)
            && ok("lt", |a, b| a < b);
    }
    false
}

fn keys_of(filter: &Value) -> Vec<String> {
    ["must", "must_not", "should"]
        .iter()
        .flat_map(|part| filter[*part].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["key"].as_str().map(str::to_owned))
        .collect()
}

fn passes(payload: &Value, filter: &Value) -> bool {
    let must = filter["must"].as_array().cloned().unwrap_or_default();
    let must_not = filter["must_not"].as_array().cloned().unwrap_or_default();
    must.iter().all(|c| condition_holds(payload, c))
        && !must_not.iter().any(|c| condition_holds(payload, c))
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

fn query(collection: &Collection, body: &Value) -> Response {
    let filter = body.get("filter").cloned().unwrap_or(Value::Null);
    for key in keys_of(&filter) {
        if !collection.indexes.contains_key(&key) {
            return error(
                400,
                &format!(
                    "Bad request: Index required but not found for \"{key}\" of one of the following types: [keyword]"
                ),
            );
        }
    }
    let limit = usize::try_from(body["limit"].as_u64().unwrap_or(10)).unwrap();
    let candidates = collection
        .points
        .iter()
        .filter(|(_, p)| filter.is_null() || passes(&p.payload, &filter));
    let mut scored: Vec<(f32, &String, &Point)> = match body["using"].as_str() {
        Some("dense") => {
            let Ok(query) = serde_json::from_value::<Vec<Vec<f32>>>(body["query"].clone()) else {
                return error(
                    400,
                    "Wrong input: a multivector query is expected for `dense`",
                );
            };
            if query.iter().any(|q| q.len() != collection.size) {
                return error(400, "Wrong input: Vector dimension error");
            }
            candidates
                .map(|(id, p)| {
                    let score = query
                        .iter()
                        .map(|q| {
                            p.dense
                                .iter()
                                .map(|d| cosine(q, d))
                                .fold(f32::NEG_INFINITY, f32::max)
                        })
                        .sum();
                    (score, id, p)
                })
                .collect()
        }
        Some("text") => {
            let indices: Vec<u32> =
                serde_json::from_value(body["query"]["indices"].clone()).unwrap_or_default();
            let values: Vec<f32> =
                serde_json::from_value(body["query"]["values"].clone()).unwrap_or_default();
            #[allow(clippy::cast_precision_loss)]
            let n = collection.points.len() as f32;
            let idf = |term: u32| {
                #[allow(clippy::cast_precision_loss)]
                let df = collection
                    .points
                    .values()
                    .filter(|p| p.sparse.as_ref().is_some_and(|(i, _)| i.contains(&term)))
                    .count() as f32;
                ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
            };
            candidates
                .filter_map(|(id, p)| {
                    let (di, dv) = p.sparse.as_ref()?;
                    let mut score = 0.0;
                    let mut shared = false;
                    for (t, q) in indices.iter().zip(&values) {
                        if let Some(pos) = di.iter().position(|x| x == t) {
                            score += idf(*t) * q * dv[pos];
                            shared = true;
                        }
                    }
                    shared.then_some((score, id, p))
                })
                .collect()
        }
        other => {
            return error(
                400,
                &format!("Wrong input: Not existing vector name: {other:?}"),
            );
        }
    };
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.truncate(limit);
    let fields: Vec<String> = body["with_payload"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let points: Vec<Value> = scored
        .into_iter()
        .map(|(score, id, p)| {
            let payload: serde_json::Map<String, Value> = fields
                .iter()
                .filter_map(|f| p.payload.get(f).map(|v| (f.clone(), v.clone())))
                .collect();
            json!({"id": id, "version": 1, "score": score, "payload": payload})
        })
        .collect();
    ok(json!({"points": points}))
}
