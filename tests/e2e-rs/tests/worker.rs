//! Every scenario against the Worker in the real Workers runtime:
//! `wrangler dev` (workerd, local, offline) serving the built
//! `dosql/worker/build/index.js`, started once on a free port with a fresh
//! `--persist-to` directory and a random token. Fails, never skips, when
//! the Worker is not built.

use dosql_e2e::{run_all, Runtime, Target};

#[tokio::test]
async fn every_scenario_against_the_worker_under_wrangler() {
    let mut target = Target::start(Runtime::Wrangler).await;
    run_all(&mut target).await;
}
