//! The HTTP transport: `POST /v1/pipeline` and `POST /v1/batch`.
//!
//! Stateless by construction: each pipeline body runs on a fresh server
//! session (a transaction left open is rolled back), so this transport
//! carries only requests that need no connection state. It is the fallback
//! for frames over the WebSocket limit and for servers without WebSockets.
//! A failed HTTP response carries `{"error": WireError}` with the code's
//! status; any other failure is a transport error.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use shared_types::protocol::HttpError;
use shared_types::{
    BatchRequest, BatchResult, PipelineRequest, PipelineResponse, Request, Response,
};

use super::Endpoint;
use crate::error::{Error, Result};

pub(crate) struct Http {
    client: reqwest::Client,
    endpoint: Endpoint,
    timeout: Duration,
}

impl Http {
    pub fn new(endpoint: Endpoint, connect_timeout: Duration, timeout: Duration) -> Result<Http> {
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .build()
            .map_err(|e| Error::Transport(format!("cannot build the HTTP client: {e}")))?;
        Ok(Http {
            client,
            endpoint,
            timeout,
        })
    }

    /// Runs requests in order on one server session.
    pub async fn pipeline(&self, requests: Vec<Request>) -> Result<Vec<Response>> {
        let n = requests.len();
        let body = PipelineRequest { requests };
        let out: PipelineResponse = self.post(&self.endpoint.pipeline, &body).await?;
        if out.responses.len() != n {
            return Err(Error::Protocol(format!(
                "{n} requests were answered by {} responses",
                out.responses.len()
            )));
        }
        Ok(out.responses)
    }

    /// Runs one request on its own session.
    pub async fn single(&self, request: Request) -> Result<Response> {
        let mut responses = self.pipeline(vec![request]).await?;
        super::answer(responses.pop().expect("one response, checked"))
    }

    pub async fn batch(&self, body: &BatchRequest) -> Result<BatchResult> {
        self.post(&self.endpoint.batch, body).await
    }

    async fn post<B: Serialize, R: DeserializeOwned>(&self, url: &str, body: &B) -> Result<R> {
        let body = serde_json::to_vec(body)
            .map_err(|e| Error::Invalid(format!("request does not encode: {e}")))?;
        let sent = self
            .client
            .post(url)
            .header(reqwest::header::AUTHORIZATION, &self.endpoint.auth)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(self.timeout)
            .body(body)
            .send()
            .await;
        let response = sent.map_err(|e| self.failure(e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| self.failure(e))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| Error::Protocol(format!("HTTP {status} body does not decode: {e}")));
        }
        match serde_json::from_slice::<HttpError>(&bytes) {
            Ok(HttpError { error }) => Err(Error::Server(error)),
            Err(_) => Err(Error::Transport(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            ))),
        }
    }

    fn failure(&self, e: reqwest::Error) -> Error {
        if e.is_timeout() {
            Error::Timeout(self.timeout)
        } else {
            Error::Transport(format!("HTTP: {e}"))
        }
    }
}
