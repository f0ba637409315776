//! Every scenario against `dosql-server`, started once from the workspace
//! build on a fresh data directory.

use dosql_e2e::{run_all, Runtime, Target};

#[tokio::test]
async fn every_scenario_against_the_native_server() {
    let mut target = Target::start(Runtime::Native).await;
    run_all(&mut target).await;
}
