//! Helpers shared by the lake tests: a real DoSQL database as the shard
//! that produces change batches, and lakes over memory or directory engines.
#![allow(dead_code)]

use std::path::Path;

use dolake::lake::wire::ChangeBatch;
use dolake::lake::{Lake, LakeConfig, Reply};
use dosql::mvcc::{Engine, EngineConfig};
use dosql::sql::cdc::{ChangeFilter, ReadLimits};
use dosql::sql::{Database, Session};
use dosql::store::{MemLogStore, MemPageStore};

/// A DoSQL shard: a database and the change stream read from it.
pub struct Shard {
    pub name: String,
    pub db: Database,
    session: Session,
    /// The next LSN to read.
    pub next: u64,
}

impl Shard {
    /// A new in-memory shard; its stream starts before its first commit.
    pub fn new(name: &str) -> Shard {
        let mut db = Database::open_memory().unwrap();
        let next = db.engine().stats().last_lsn + 1;
        Shard {
            name: name.into(),
            db,
            session: Session::new(),
            next,
        }
    }

    pub fn exec(&mut self, sql: &str) {
        self.db
            .execute(&mut self.session, sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The changes from `from` on, at most `max_txns` transactions.
    pub fn read_from(&mut self, from: u64, max_txns: usize) -> ChangeBatch {
        let limits = ReadLimits {
            max_txns,
            max_bytes: usize::MAX,
        };
        let batch = self
            .db
            .read_changes(from, limits, &ChangeFilter::default())
            .unwrap();
        // Exactly what a shard ships: the wire form of the batch.
        dosql_service::cdc::batch_to_wire(batch, &self.name)
    }

    /// Everything not read yet; moves the read position.
    pub fn batch(&mut self) -> ChangeBatch {
        let b = self.read_from(self.next, usize::MAX);
        self.next = b.next_lsn;
        b
    }
}

pub fn memory_engine() -> Engine {
    Engine::open(
        Box::new(MemPageStore::new(4096).unwrap()),
        Box::new(MemLogStore::new()),
        EngineConfig::default(),
    )
    .unwrap()
}

pub fn dir_engine(dir: &Path) -> Engine {
    Engine::open_dir(dir, 4096, EngineConfig::default()).unwrap()
}

pub fn lake(config: LakeConfig) -> Lake {
    Lake::open(memory_engine(), config).unwrap()
}

/// Sends `batch` and expects an ack of `lsn`.
pub fn ack(lake: &mut Lake, shard: &str, batch: &ChangeBatch, now: u64) -> u64 {
    match lake.receive(shard, batch, now).unwrap() {
        Reply::Ack { shard: s, lsn } => {
            assert_eq!(s, shard);
            lsn
        }
        nack => panic!("expected an ack, got {nack:?}"),
    }
}
