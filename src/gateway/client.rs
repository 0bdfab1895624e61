mod cache;
mod calls;
mod memo;
mod wire;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;

use super::transport::MAX_MESSAGE_SIZE;
use crate::error::{Error, Result};
use crate::proto::google::rpc::Status;
use crate::proto::gw::{self, llb_bridge_client::LlbBridgeClient};
pub use calls::{CallSummary, KindStats, SourceStats};
use calls::{Kind, Recorder};

const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Capabilities the daemon announced in `Ping`.
#[derive(Debug, Clone, Default)]
pub struct Caps {
    pub frontend: BTreeSet<String>,
    pub llb: BTreeSet<String>,
}

impl Caps {
    pub fn from_pong(pong: &gw::PongResponse) -> Self {
        let enabled = |caps: &[crate::proto::moby::buildkit::v1::apicaps::ApiCap]| {
            caps.iter()
                .filter(|c| c.enabled)
                .map(|c| c.id.clone())
                .collect()
        };
        Caps {
            frontend: enabled(&pong.frontend_api_caps),
            llb: enabled(&pong.llb_caps),
        }
    }

    pub fn has_frontend(&self, cap: &str) -> bool {
        self.frontend.contains(cap)
    }

    pub fn has_llb(&self, cap: &str) -> bool {
        self.llb.contains(cap)
    }

    pub fn require_frontend(&self, cap: &str, why: &str) -> Result<()> {
        if self.has_frontend(cap) {
            Ok(())
        } else {
            Err(Error::MissingCap {
                cap: cap.to_string(),
                why: why.to_string(),
            })
        }
    }
}

/// What a sub-frontend solve returned: per-platform definitions, left unevaluated, plus the
/// metadata and attestations that must travel on to our own result.
#[derive(Debug, Clone)]
pub struct SubResult {
    /// `None` key: a single-ref result; otherwise platform id -> ref.
    pub refs: BTreeMap<Option<String>, gw::Ref>,
    pub metadata: BTreeMap<String, Vec<u8>>,
    pub attestations: BTreeMap<String, gw::Attestations>,
}

pub struct Bridge {
    client: LlbBridgeClient<Channel>,
    /// For the one call made with hand-encoded bytes (`Return`, see `wire`).
    channel: Channel,
    pub caps: Caps,
    /// The default worker's first platform: what BuildKit resolved this frontend image for.
    pub worker_platform: Option<crate::proto::pb::Platform>,
    /// The build's cache imports, given to every solve (`use_cache_imports`).
    cache_imports: OnceLock<Vec<gw::CacheOptionsEntry>>,
    /// Every call made through this bridge, timed (`call_summary`).
    calls: Recorder,
    /// The build's source metadata answers, each question asked once.
    metadata: memo::Memo<std::result::Result<gw::ResolveSourceMetaResponse, tonic::Status>>,
}

impl Bridge {
    /// Pings the daemon and records its capabilities; every later decision about what the
    /// daemon can do is made from these, never by trial and error.
    pub async fn new(channel: Channel) -> Result<Self> {
        let mut client = LlbBridgeClient::new(channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        let calls = Recorder::default();
        // Go's gateway client gives Ping 15 s too: a daemon that does not answer the first
        // call will not answer later ones, and a frontend must not hang the build.
        let ping = tokio::time::timeout(PING_TIMEOUT, client.ping(gw::PingRequest {}));
        let pong = calls
            .time(Kind::Ping, None, ping)
            .await
            .map_err(|_| Error::Connect(format!("no answer to Ping within {PING_TIMEOUT:?}")))?
            .map_err(|s| Error::gateway("Ping", s))?
            .into_inner();
        let caps = Caps::from_pong(&pong);
        let worker_platform = pong
            .workers
            .first()
            .and_then(|w| w.platforms.first())
            .cloned();
        Ok(Bridge {
            client,
            channel,
            caps,
            worker_platform,
            cache_imports: OnceLock::new(),
            calls,
            metadata: memo::Memo::default(),
        })
    }

    /// Count, total and median time of the calls made so far, per kind and per source.
    pub fn call_summary(&self) -> CallSummary {
        self.calls.summary()
    }

    /// Reads the build's cache imports from its options (`cache-imports`, `cache-from`), as
    /// the Dockerfile frontend does: the pinned graphs are solved here, not by it, and
    /// without them a build would lose its remote cache. Once per build; later calls keep
    /// the first imports.
    pub fn use_cache_imports(&self, opts: &BTreeMap<String, String>) -> Result<()> {
        let imports = cache::from_options(opts)?;
        let _ = self.cache_imports.set(imports);
        Ok(())
    }

    /// The client's frontend inputs (named contexts given as LLB), as marshalled definitions.
    pub async fn inputs(&self) -> Result<BTreeMap<String, Vec<u8>>> {
        if !self.caps.has_frontend("frontend.inputs") {
            return Ok(BTreeMap::new());
        }
        let mut client = self.client.clone();
        let resp = self
            .calls
            .time(Kind::Inputs, None, client.inputs(gw::InputsRequest {}))
            .await
            .map_err(|s| Error::gateway("Inputs", s))?
            .into_inner();
        Ok(resp.definitions)
    }

    /// Runs another frontend (the Dockerfile frontend) and returns its result unevaluated.
    pub async fn solve_frontend(
        &self,
        frontend: &str,
        opts: BTreeMap<String, String>,
        inputs: BTreeMap<String, Vec<u8>>,
    ) -> Result<SubResult> {
        self.caps.require_frontend(
            "proto.refarray",
            "receive the Dockerfile frontend's build graph (Ref.def)",
        )?;
        let req = gw::SolveRequest {
            frontend: frontend.to_string(),
            frontend_opt: opts,
            frontend_inputs: inputs,
            allow_result_return: true,
            allow_result_array_ref: true,
            ..Default::default()
        };
        let mut client = self.client.clone();
        let resp = self
            .calls
            .time(Kind::SolveFrontend, None, client.solve(req))
            .await
            .map_err(|s| Error::SubFrontend {
                status: Box::new(s),
            })?
            .into_inner();
        let result = resp.result.ok_or_else(|| {
            Error::Other(format!(
                "frontend {frontend} returned no result (deprecated string ref {:?})",
                resp.r#ref
            ))
        })?;
        let refs = match result.result {
            Some(gw::result::Result::Ref(r)) => BTreeMap::from([(None, r)]),
            Some(gw::result::Result::Refs(m)) => {
                m.refs.into_iter().map(|(k, v)| (Some(k), v)).collect()
            }
            Some(gw::result::Result::RefDeprecated(_))
            | Some(gw::result::Result::RefsDeprecated(_)) => {
                return Err(Error::Other(format!(
                    "frontend {frontend} returned deprecated string refs without definitions"
                )));
            }
            // A result without refs (e.g. a subrequest such as --print/outline) has nothing
            // to build, so nothing to verify: it is passed through as it is.
            None => BTreeMap::new(),
        };
        Ok(SubResult {
            refs,
            metadata: result.metadata,
            attestations: result.attestations,
        })
    }

    /// A warning in the client's build output (best effort: a daemon without the
    /// `gateway.warnings` cap, or a failed call, only loses the line, which buildkitd's log
    /// still has).
    pub async fn warn(&self, short: &str) {
        self.warn_at(String::new(), short, vec![], None, vec![])
            .await;
    }

    /// A warning attached to an op and, with `info` and `ranges`, to lines of its source
    /// file (the client shows the Dockerfile snippet).
    pub async fn warn_at(
        &self,
        digest: String,
        short: &str,
        detail: Vec<String>,
        info: Option<crate::proto::pb::SourceInfo>,
        ranges: Vec<crate::proto::pb::Range>,
    ) {
        if !self.caps.has_frontend("gateway.warnings") {
            return;
        }
        let req = gw::WarnRequest {
            digest,
            level: 1,
            short: short.as_bytes().to_vec(),
            detail: detail.into_iter().map(String::into_bytes).collect(),
            url: String::new(),
            info,
            ranges,
        };
        let mut client = self.client.clone();
        if let Err(s) = self.calls.time(Kind::Warn, None, client.warn(req)).await {
            crate::daemon_log!("Warn failed: {}", s.message());
        }
    }

    /// Solves a marshalled definition lazily and returns the ref (id plus definition) BuildKit made.
    pub async fn solve_definition(&self, def: Vec<u8>) -> Result<gw::Ref> {
        self.solve_definition_with(def, false).await
    }

    /// Solves a definition now, so its steps show in the client's progress.
    pub async fn evaluate_definition(&self, def: Vec<u8>) -> Result<gw::Ref> {
        self.solve_definition_with(def, true).await
    }

    async fn solve_definition_with(&self, def: Vec<u8>, evaluate: bool) -> Result<gw::Ref> {
        let req = gw::SolveRequest {
            definition: def,
            evaluate,
            allow_result_return: true,
            allow_result_array_ref: true,
            cache_imports: self.cache_imports.get().cloned().unwrap_or_default(),
            ..Default::default()
        };
        let kind = if evaluate {
            Kind::SolveEvaluate
        } else {
            Kind::Solve
        };
        let mut client = self.client.clone();
        let resp = self
            .calls
            .time(kind, None, client.solve(req))
            .await
            .map_err(|s| Error::gateway("Solve", s))?
            .into_inner();
        match resp.result.and_then(|r| r.result) {
            Some(gw::result::Result::Ref(r)) => Ok(r),
            other => Err(Error::Other(format!(
                "solving the pinned definition returned an unexpected result shape: {other:?}"
            ))),
        }
    }

    /// Reads a file from a solved ref; `Ok(None)` if it does not exist.
    pub async fn read_file(&self, ref_id: &str, path: &str) -> Result<Option<Vec<u8>>> {
        self.read_file_range(ref_id, path, None).await
    }

    /// Reads at most `head` bytes from the start of a file (all of it for `None`), e.g. to
    /// tell an archive by its first bytes without transferring it; `Ok(None)` if it does
    /// not exist.
    pub async fn read_file_range(
        &self,
        ref_id: &str,
        path: &str,
        head: Option<i64>,
    ) -> Result<Option<Vec<u8>>> {
        self.caps
            .require_frontend("readfile", "read policy files from the build context")?;
        let req = gw::ReadFileRequest {
            r#ref: ref_id.to_string(),
            file_path: path.to_string(),
            range: head.map(|length| gw::FileRange { offset: 0, length }),
            ..Default::default()
        };
        let mut client = self.client.clone();
        let resp = self
            .calls
            .time(Kind::ReadFile, None, client.read_file(req))
            .await;
        match resp {
            Ok(r) => Ok(Some(r.into_inner().data)),
            // BuildKit reports a missing file as the OS error text, with code Unknown.
            Err(s)
                if s.code() == tonic::Code::NotFound
                    || s.message().contains("no such file or directory") =>
            {
                Ok(None)
            }
            Err(s) => Err(Error::gateway("ReadFile", s)),
        }
    }

    /// BuildKit's answer for a source, asked once per build: a second identical request
    /// (another form, round or decision of the same source) gets the first answer, which
    /// the build is pinned to anyway; a refusal included.
    pub async fn resolve_source_meta(
        &self,
        req: gw::ResolveSourceMetaRequest,
    ) -> Result<gw::ResolveSourceMetaResponse> {
        let (answer, reused) = self
            .metadata
            .get_or_ask(&req, || self.ask_source_meta(req.clone()))
            .await;
        if reused {
            self.calls.reused(Kind::ResolveSourceMeta);
        }
        answer.map_err(|s| Error::gateway("ResolveSourceMeta", s))
    }

    async fn ask_source_meta(
        &self,
        req: gw::ResolveSourceMetaRequest,
    ) -> std::result::Result<gw::ResolveSourceMetaResponse, tonic::Status> {
        let source = req.source.as_ref().map(|op| op.identifier.clone());
        let mut client = self.client.clone();
        self.calls
            .time(
                Kind::ResolveSourceMeta,
                source,
                client.resolve_source_meta(req),
            )
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn resolve_image_config(
        &self,
        req: gw::ResolveImageConfigRequest,
    ) -> Result<gw::ResolveImageConfigResponse> {
        let source = Some(image_config_source(&req));
        let mut client = self.client.clone();
        Ok(self
            .calls
            .time(
                Kind::ResolveImageConfig,
                source,
                client.resolve_image_config(req),
            )
            .await
            .map_err(|s| Error::gateway("ResolveImageConfig", s))?
            .into_inner())
    }

    /// Returns the result with every map value on the wire (see `wire`): what Go's gateway
    /// client sends, and what buildkitd needs not to crash on an empty ref.
    pub async fn return_result(&self, result: gw::Result) -> Result<()> {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        grpc.ready().await.map_err(|e| {
            Error::gateway(
                "Return",
                tonic::Status::unavailable(format!("the gateway is not ready: {e}")),
            )
        })?;
        let codec = tonic_prost::ProstCodec::<wire::Encoded, gw::ReturnResponse>::default();
        let path = PathAndQuery::from_static("/moby.buildkit.v1.frontend.LLBBridge/Return");
        let call = grpc.unary(
            tonic::Request::new(wire::return_request(result)),
            path,
            codec,
        );
        let returned = self.calls.time(Kind::Return, None, call).await;
        self.log_calls();
        returned.map_err(|s| Error::gateway("Return", s))?;
        Ok(())
    }

    pub async fn return_error(&self, err: &Error) -> Result<()> {
        let status = Status {
            code: err.grpc_code() as i32,
            message: err.to_string(),
            details: err.status_details(),
        };
        let req = gw::ReturnRequest {
            result: None,
            error: Some(status),
        };
        let mut client = self.client.clone();
        let returned = self
            .calls
            .time(Kind::Return, None, client.r#return(req))
            .await;
        self.log_calls();
        returned.map_err(|s| Error::gateway("Return", s))?;
        Ok(())
    }

    /// The calls of the whole run, Return included, in buildkitd's log: the report is
    /// written before the attestations are made and the result returned. Per kind only;
    /// the report has the per-source split.
    fn log_calls(&self) {
        let mut summary = self.calls.summary();
        summary.sources.clear();
        match serde_json::to_string(&summary) {
            Ok(json) => crate::daemon_log!("calls {json}"),
            Err(e) => crate::daemon_log!("calls: cannot encode the call timings: {e}"),
        }
    }
}

/// The source a `ResolveImageConfig` is about, named as the graph names it.
fn image_config_source(req: &gw::ResolveImageConfigRequest) -> String {
    // resolver_type 1 is BuildKit's ResolverTypeOCILayout.
    let scheme = if req.resolver_type == 1 {
        "oci-layout"
    } else {
        "docker-image"
    };
    format!("{scheme}://{}", req.r#ref)
}
