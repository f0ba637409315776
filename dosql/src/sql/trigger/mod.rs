//! Triggers: programs of INSERT / UPDATE / DELETE / SELECT statements run
//! for each row a statement writes, with that row's values as `OLD` and
//! `NEW`.
//!
//! ```text
//!   catalog   key: keycode(Text(lower(name))) ++ keycode(Text("trigger"))
//!             value: record ["trigger", name, table, CREATE text, seq]
//!   schema    Schema::triggers, by lower-case name; `seq` orders them by
//!             creation, and the newest fires first (as in SQLite)
//!   firing    fire.rs: BEFORE / AFTER around each row write of a table,
//!             view.rs: INSTEAD OF in place of writes to a view
//! ```
//!
//! Trigger names live in their own namespace (a table and a trigger may
//! share a name), hence the catalog key's second part. Only the CREATE
//! text is stored; the trigger is parsed again when the schema loads.
//! Dropping a table or view drops its triggers. Bodies are bound when they
//! fire, so a body naming a missing table fails then, not at CREATE.

pub mod fire;
pub mod parse;
pub mod view;

use sqlparser::ast;

use crate::error::{Error, Result};
use crate::invalid;
use crate::keycode::{self, KeyValue};
use crate::mvcc::{Engine, TreeKind, TxnId};
use crate::sql::exec::Exec;
use crate::sql::record::encode_row;
use crate::sql::schema::{fold, object_name, Schema, CATALOG_TREE};
use crate::sql::value::Value;

pub use fire::{bind_raise, column, delete_row, has_triggers, raise, update_row, TriggerScope};

/// When a trigger runs relative to the row change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timing {
    Before,
    After,
    InsteadOf,
}

/// The kind of row change a trigger runs for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Insert,
    Update,
    Delete,
}

/// A trigger, as its CREATE TRIGGER statement defines it.
#[derive(Clone, Debug)]
pub struct Trigger {
    pub name: String,
    /// The table or view it is on.
    pub table: String,
    pub timing: Timing,
    pub event: Event,
    /// `UPDATE OF` columns as named; empty: any column.
    pub columns: Vec<String>,
    pub when: Option<ast::Expr>,
    pub body: Vec<ast::Statement>,
    pub sql: String,
    /// Creation order.
    pub seq: i64,
}

impl Trigger {
    /// Builds a trigger from its CREATE TRIGGER statement.
    pub fn from_ast(create: &ast::CreateTrigger, sql: String, seq: i64) -> Result<Trigger> {
        let timing = match create.period {
            None | Some(ast::TriggerPeriod::Before) => Timing::Before,
            Some(ast::TriggerPeriod::After) => Timing::After,
            Some(ast::TriggerPeriod::InsteadOf) => Timing::InsteadOf,
            Some(other) => return Err(invalid!("unsupported trigger time {other}")),
        };
        let (event, columns) = match create.events.as_slice() {
            [ast::TriggerEvent::Insert] => (Event::Insert, Vec::new()),
            [ast::TriggerEvent::Delete] => (Event::Delete, Vec::new()),
            [ast::TriggerEvent::Update(cols)] => (
                Event::Update,
                cols.iter().map(|c| c.value.clone()).collect(),
            ),
            _ => return Err(invalid!("unsupported trigger event")),
        };
        let body = match &create.statements {
            Some(ast::ConditionalStatements::BeginEnd(b)) => b.statements.clone(),
            _ => return Err(invalid!("a trigger needs a BEGIN ... END body")),
        };
        Ok(Trigger {
            name: object_name(&create.name)?,
            table: object_name(&create.table_name)?,
            timing,
            event,
            columns,
            when: create.condition.clone(),
            body,
            sql,
            seq,
        })
    }

    /// The name SQLite uses for the timing in error messages.
    fn timing_word(&self) -> &'static str {
        match self.timing {
            Timing::Before => "BEFORE",
            Timing::After => "AFTER",
            Timing::InsteadOf => "INSTEAD OF",
        }
    }
}

fn catalog_key(name: &str) -> Vec<u8> {
    let mut key = Vec::new();
    for part in [fold(name), "trigger".to_string()] {
        keycode::encode_column(&KeyValue::Text(part), keycode::Direction::Asc, &mut key);
    }
    key
}

/// Writes (or with `trigger` None, deletes) the catalog row of trigger
/// `name`.
fn store(engine: &mut Engine, txn: TxnId, name: &str, trigger: Option<&Trigger>) -> Result<()> {
    let tree = match engine.tree(txn, CATALOG_TREE)? {
        Some(tree) => tree,
        None => engine.create_tree(txn, CATALOG_TREE, TreeKind::Table)?,
    };
    let key = catalog_key(name);
    match trigger {
        Some(t) => {
            let row = [
                Value::Text("trigger".into()),
                Value::Text(t.name.clone()),
                Value::Text(t.table.clone()),
                Value::Text(t.sql.clone()),
                Value::Integer(t.seq),
            ];
            let mut value = Vec::new();
            encode_row(&row, &mut value);
            engine.put(txn, tree, &key, &value)
        }
        None => engine.delete(txn, tree, &key).map(|_| ()),
    }
}

/// CREATE TRIGGER. Returns false when IF NOT EXISTS found the trigger.
pub fn create(schema: &mut Schema, ex: &mut Exec, create: &ast::CreateTrigger) -> Result<bool> {
    let name = object_name(&create.name)?;
    let key = fold(&name);
    if parse::if_not_exists(create) && schema.triggers.contains_key(&key) {
        return Ok(false);
    }
    if create.temporary {
        return Err(invalid!("TEMP triggers are not supported"));
    }
    if name.len() >= 7 && name[..7].eq_ignore_ascii_case("sqlite_") {
        return Err(invalid!("object name reserved for internal use: {name}"));
    }
    if schema.triggers.contains_key(&key) {
        return Err(invalid!("trigger {name} already exists"));
    }
    let seq = schema.triggers.values().map(|t| t.seq).max().unwrap_or(0) + 1;
    let mut trigger = Trigger::from_ast(create, parse::stored_form(create), seq)?;
    let on_view = schema.views.contains_key(&fold(&trigger.table));
    if let Some(table) = schema.table(&trigger.table) {
        if trigger.timing == Timing::InsteadOf {
            return Err(invalid!(
                "cannot create INSTEAD OF trigger on table: {}",
                trigger.table
            ));
        }
        if table.name.len() >= 7 && table.name[..7].eq_ignore_ascii_case("sqlite_") {
            return Err(invalid!("cannot create trigger on system table"));
        }
        trigger.table = table.name.clone();
    } else if on_view {
        if trigger.timing != Timing::InsteadOf {
            return Err(invalid!(
                "cannot create {} trigger on view: {}",
                trigger.timing_word(),
                trigger.table
            ));
        }
        trigger.table = schema.views[&fold(&trigger.table)].name.clone();
    } else {
        return Err(Error::NotFound(format!(
            "no such table: main.{}",
            trigger.table
        )));
    }
    store(ex.engine, ex.txn, &trigger.name, Some(&trigger))?;
    schema.triggers.insert(key, trigger);
    Ok(true)
}

/// DROP TRIGGER.
pub fn drop(schema: &mut Schema, ex: &mut Exec, d: &ast::DropTrigger) -> Result<()> {
    let name = object_name(&d.trigger_name)?;
    let Some(trigger) = schema.triggers.remove(&fold(&name)) else {
        if d.if_exists {
            return Ok(());
        }
        return Err(Error::NotFound(format!("no such trigger: {name}")));
    };
    store(ex.engine, ex.txn, &trigger.name, None)
}

/// Drops the triggers on table or view `table` (which is being dropped).
pub fn drop_for(schema: &mut Schema, ex: &mut Exec, table: &str) -> Result<()> {
    let doomed: Vec<String> = schema
        .triggers
        .iter()
        .filter(|(_, t)| t.table.eq_ignore_ascii_case(table))
        .map(|(k, _)| k.clone())
        .collect();
    for key in doomed {
        if let Some(t) = schema.triggers.remove(&key) {
            store(ex.engine, ex.txn, &t.name, None)?;
        }
    }
    Ok(())
}

/// Loads a catalog row of type "trigger" (`seq` NULL reads as 0).
pub fn load(schema: &mut Schema, stmt: &ast::Statement, sql: &str, seq: &Value) -> Result<()> {
    let ast::Statement::CreateTrigger(create) = stmt else {
        return Err(crate::corruption!("catalog trigger holds {sql:?}"));
    };
    let seq = match seq {
        Value::Integer(i) => *i,
        _ => 0,
    };
    let t = Trigger::from_ast(create, sql.to_string(), seq)?;
    schema.triggers.insert(fold(&t.name), t);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_keys_differ_from_table_keys() {
        let mut table_key = Vec::new();
        keycode::encode_column(
            &KeyValue::Text("x".into()),
            keycode::Direction::Asc,
            &mut table_key,
        );
        let k = catalog_key("X");
        assert_ne!(k, table_key);
        assert!(k.starts_with(&table_key));
    }
}
