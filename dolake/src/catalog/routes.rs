//! Routing and the read-only and namespace endpoints.
//!
//! ```text
//!   GET    /v1/config
//!   GET    /v1/namespaces[?parent=a%1Fb]          POST /v1/namespaces
//!   GET|HEAD|DELETE /v1/namespaces/{ns}           POST /v1/namespaces/{ns}/properties
//!   GET    /v1/namespaces/{ns}/tables             POST /v1/namespaces/{ns}/tables
//!   GET|HEAD|DELETE|POST /v1/namespaces/{ns}/tables/{table}
//!   POST   /v1/tables/rename
//! ```
//!
//! `{ns}` is the namespace's levels joined by the unit separator U+001F
//! (`%1F` once encoded); every path segment is percent-decoded once, after
//! splitting on `/`; an encoded `/` inside a name is then refused by
//! [`state::check_name`], since names become object key segments.

use std::collections::{BTreeMap, BTreeSet};

use dosql::mvcc::Engine;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{Kind, RestError, RestResult};
use super::state::{self, Namespace, TableIdent};
use super::{tables, Catalog, Env, Request, Response, Step};
use crate::s3::percent_decode;

/// The routes' targets, with their identifiers decoded and checked.
enum Target {
    Config,
    Namespaces,
    Namespace(Namespace),
    Properties(Namespace),
    Tables(Namespace),
    Table(TableIdent),
    Rename,
}

fn decode(segment: &str) -> RestResult<String> {
    percent_decode(segment)
        .ok_or_else(|| RestError::bad_request(format!("malformed percent-encoding in {segment:?}")))
}

/// Splits a decoded `{ns}` path parameter into checked levels.
pub fn parse_namespace(raw: &str) -> RestResult<Namespace> {
    let ns: Namespace = raw.split('\u{1f}').map(str::to_owned).collect();
    state::check_namespace(&ns)?;
    Ok(ns)
}

fn target(path: &str) -> RestResult<Target> {
    let no_route = || RestError::new(Kind::NoSuchEndpoint, format!("no route {path}"));
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let ns = |i: usize| -> RestResult<Namespace> { parse_namespace(&decode(segments[i])?) };
    Ok(match segments.as_slice() {
        ["v1", "config"] => Target::Config,
        ["v1", "namespaces"] => Target::Namespaces,
        ["v1", "tables", "rename"] => Target::Rename,
        ["v1", "namespaces", _] => Target::Namespace(ns(2)?),
        ["v1", "namespaces", _, "properties"] => Target::Properties(ns(2)?),
        ["v1", "namespaces", _, "tables"] => Target::Tables(ns(2)?),
        ["v1", "namespaces", _, "tables", name] => {
            let name = decode(name)?;
            state::check_name("table name", &name)?;
            Target::Table(TableIdent {
                namespace: ns(2)?,
                name,
            })
        }
        _ => return Err(no_route()),
    })
}

/// The value of query parameter `name`, decoded (`+` is a space there).
fn query_param(query: &str, name: &str) -> RestResult<Option<String>> {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if decode(&k.replace('+', " "))? == name {
            return decode(&v.replace('+', " ")).map(Some);
        }
    }
    Ok(None)
}

/// Parses a JSON request body.
pub fn body<T: DeserializeOwned>(bytes: &[u8]) -> RestResult<T> {
    serde_json::from_slice(bytes).map_err(|e| RestError::bad_request(format!("invalid request body: {e}")))
}

fn method_not_allowed(method: &str, path: &str) -> RestError {
    RestError::new(Kind::MethodNotAllowed, format!("{method} is not allowed on {path}"))
}

pub(super) fn route(catalog: &Catalog, engine: &mut Engine, req: &Request<'_>, env: &Env) -> RestResult<Step> {
    let done = |r: RestResult<Response>| r.map(Step::Done);
    match (req.method, target(req.path)?) {
        ("GET", Target::Config) => Ok(Step::Done(config(catalog))),
        ("GET", Target::Namespaces) => done(list_namespaces(engine, req.query)),
        ("POST", Target::Namespaces) => done(create_namespace(engine, req.body)),
        ("GET", Target::Namespace(ns)) => done(load_namespace(engine, &ns)),
        ("HEAD", Target::Namespace(ns)) => done(load_namespace(engine, &ns).map(|_| Response::empty(204))),
        ("DELETE", Target::Namespace(ns)) => done(drop_namespace(engine, &ns).map(|()| Response::empty(204))),
        ("POST", Target::Properties(ns)) => done(update_properties(engine, &ns, req.body)),
        ("GET", Target::Tables(ns)) => done(list_tables(engine, &ns)),
        ("POST", Target::Tables(ns)) => tables::create(catalog, engine, &ns, req.body, env),
        ("GET", Target::Table(t)) => done(load_table(catalog, engine, &t)),
        ("HEAD", Target::Table(t)) => done(load_table(catalog, engine, &t).map(|_| Response::empty(204))),
        ("POST", Target::Table(t)) => tables::commit(catalog, engine, &t, req.body, env),
        ("DELETE", Target::Table(t)) => done(tables::drop(engine, &t)),
        ("POST", Target::Rename) => done(tables::rename(engine, req.body)),
        (method, _) => Err(method_not_allowed(method, req.path)),
    }
}

/// The routes this catalog serves, as the spec's `endpoints` strings.
const ENDPOINTS: &[&str] = &[
    "GET /v1/{prefix}/namespaces",
    "POST /v1/{prefix}/namespaces",
    "GET /v1/{prefix}/namespaces/{namespace}",
    "HEAD /v1/{prefix}/namespaces/{namespace}",
    "DELETE /v1/{prefix}/namespaces/{namespace}",
    "POST /v1/{prefix}/namespaces/{namespace}/properties",
    "GET /v1/{prefix}/namespaces/{namespace}/tables",
    "POST /v1/{prefix}/namespaces/{namespace}/tables",
    "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "POST /v1/{prefix}/tables/rename",
];

fn config(catalog: &Catalog) -> Response {
    Response::json(
        200,
        &json!({
            "defaults": catalog.config.client_properties,
            "overrides": {},
            "endpoints": ENDPOINTS,
        }),
    )
}

fn no_namespace(ns: &[String]) -> RestError {
    RestError::new(Kind::NoSuchNamespace, format!("namespace {} does not exist", ns.join(".")))
}

fn no_table(t: &TableIdent) -> RestError {
    RestError::new(Kind::NoSuchTable, format!("table {t} does not exist"))
}

/// The properties of an existing namespace, or 404.
pub fn existing_namespace(
    engine: &mut Engine,
    txn: dosql::mvcc::TxnId,
    ns: &[String],
) -> RestResult<BTreeMap<String, String>> {
    state::namespace(engine, txn, ns)?.ok_or_else(|| no_namespace(ns))
}

/// The entry of an existing table, or 404 (NoSuchNamespace if its
/// namespace is missing too, as clients expect).
pub fn existing_table(
    engine: &mut Engine,
    txn: dosql::mvcc::TxnId,
    t: &TableIdent,
) -> RestResult<state::TableEntry> {
    match state::table(engine, txn, t)? {
        Some(entry) => Ok(entry),
        None => {
            existing_namespace(engine, txn, &t.namespace)?;
            Err(no_table(t))
        }
    }
}

fn list_namespaces(engine: &mut Engine, query: &str) -> RestResult<Response> {
    let parent = match query_param(query, "parent")? {
        Some(p) if !p.is_empty() => parse_namespace(&p)?,
        _ => Vec::new(),
    };
    let children = state::in_txn(engine, |e, txn| {
        if !parent.is_empty() {
            existing_namespace(e, txn, &parent)?;
        }
        state::child_namespaces(e, txn, &parent)
    })?;
    Ok(Response::json(200, &json!({ "namespaces": children })))
}

#[derive(Deserialize)]
struct CreateNamespace {
    namespace: Namespace,
    #[serde(default)]
    properties: BTreeMap<String, String>,
}

fn create_namespace(engine: &mut Engine, bytes: &[u8]) -> RestResult<Response> {
    let req: CreateNamespace = body(bytes)?;
    state::check_namespace(&req.namespace)?;
    state::in_txn(engine, |e, txn| {
        if state::namespace(e, txn, &req.namespace)?.is_some() {
            return Err(RestError::new(
                Kind::AlreadyExists,
                format!("namespace {} already exists", req.namespace.join(".")),
            ));
        }
        state::put_namespace(e, txn, &req.namespace, &req.properties)
    })?;
    Ok(Response::json(
        200,
        &json!({"namespace": req.namespace, "properties": req.properties}),
    ))
}

fn load_namespace(engine: &mut Engine, ns: &[String]) -> RestResult<Response> {
    let properties = state::in_txn(engine, |e, txn| existing_namespace(e, txn, ns))?;
    Ok(Response::json(200, &json!({"namespace": ns, "properties": properties})))
}

fn drop_namespace(engine: &mut Engine, ns: &[String]) -> RestResult<()> {
    state::in_txn(engine, |e, txn| {
        existing_namespace(e, txn, ns)?;
        let tables = state::tables_in(e, txn, ns)?;
        let children = state::child_namespaces(e, txn, ns)?;
        if !tables.is_empty() || !children.is_empty() {
            return Err(RestError::new(
                Kind::NamespaceNotEmpty,
                format!(
                    "namespace {} holds {} tables and {} namespaces",
                    ns.join("."),
                    tables.len(),
                    children.len()
                ),
            ));
        }
        state::delete_namespace(e, txn, ns)
    })
}

#[derive(Deserialize)]
struct UpdateProperties {
    #[serde(default)]
    removals: Vec<String>,
    #[serde(default)]
    updates: BTreeMap<String, String>,
}

fn update_properties(engine: &mut Engine, ns: &[String], bytes: &[u8]) -> RestResult<Response> {
    let req: UpdateProperties = body(bytes)?;
    let both: BTreeSet<&String> = req.removals.iter().filter(|k| req.updates.contains_key(*k)).collect();
    if !both.is_empty() {
        return Err(RestError::new(
            Kind::UnprocessableEntity,
            format!("properties both set and removed: {both:?}"),
        ));
    }
    let (removed, missing) = state::in_txn(engine, |e, txn| {
        let mut properties = existing_namespace(e, txn, ns)?;
        let (mut removed, mut missing) = (Vec::new(), Vec::new());
        for k in &req.removals {
            match properties.remove(k) {
                Some(_) => removed.push(k.clone()),
                None => missing.push(k.clone()),
            }
        }
        properties.extend(req.updates.clone());
        state::put_namespace(e, txn, ns, &properties)?;
        Ok((removed, missing))
    })?;
    let updated: Vec<&String> = req.updates.keys().collect();
    Ok(Response::json(
        200,
        &json!({"updated": updated, "removed": removed, "missing": missing}),
    ))
}

fn list_tables(engine: &mut Engine, ns: &[String]) -> RestResult<Response> {
    let identifiers = state::in_txn(engine, |e, txn| {
        existing_namespace(e, txn, ns)?;
        state::tables_in(e, txn, ns)
    })?;
    Ok(Response::json(200, &json!({ "identifiers": identifiers })))
}

/// A `LoadTableResult`.
pub fn load_result(catalog: &Catalog, location: Option<&str>, metadata: &Value) -> Value {
    let mut v = json!({
        "metadata": metadata,
        "config": catalog.config.client_properties,
    });
    if let Some(location) = location {
        v["metadata-location"] = json!(location);
    }
    v
}

fn load_table(catalog: &Catalog, engine: &mut Engine, t: &TableIdent) -> RestResult<Response> {
    let entry = state::in_txn(engine, |e, txn| existing_table(e, txn, t))?;
    Ok(Response::json(
        200,
        &load_result(catalog, Some(&entry.metadata_location), &entry.metadata),
    ))
}
