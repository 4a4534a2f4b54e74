//! lambda-hello: the smallest `lambda_runtime` function (answers `{"ok":true}` to any event),
//! the baseline of the cold-start bench (`infra/bench/cold-start`).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(json!({ "ok": true }))
    }))
    .await
}
