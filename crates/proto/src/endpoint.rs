//! Every endpoint the server answers, named once.
//!
//! [`ENDPOINTS`] is the table: each row gives an endpoint's name (for logs, metrics,
//! rate-limit keys and fault rules), its method and path, who may call it, which rate
//! limit it counts against, whether fault rules may target it, and whether the server's
//! `sendfile(2)` front may answer it. The server matches a request against this table
//! once ([`Endpoint::find`]); authentication, limits, faults, metrics, the request log
//! and the front all read the match. The client builds its URLs from the same paths.
//!
//! Adding an endpoint: a variant of [`Endpoint`], its row in [`ENDPOINTS`], and (in the
//! server) its handler.

use crate::scope;

/// One public endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    TenantAccessToken,
    AppAccessToken,
    Download,
    UploadAll,
    UploadPrepare,
    UploadPart,
    UploadFinish,
    BatchGetTmpDownloadUrl,
    /// A temporary download link, as handed out by `batch_get_tmp_download_url`.
    TmpLink,
    /// `GET /open-apis/docx/v1/documents/{document_id}`.
    DocxDocument,
    /// `GET /open-apis/docx/v1/documents/{document_id}/blocks`.
    DocxBlocks,
    /// `GET /open-apis/sheets/v2/spreadsheets/{token}/values_batch_get`.
    SheetValues,
    /// `POST /open-apis/bitable/v1/apps/{app_token}/tables/{table_id}/records/search`.
    BitableSearch,
    /// `GET /open-apis/sheets/v3/spreadsheets/{token}/sheets/query`: a spreadsheet's sheets.
    SheetsQuery,
    /// `GET /open-apis/bitable/v1/apps/{app_token}/tables`: a bitable's tables.
    BitableTables,
    /// `GET /open-apis/drive/v1/files/{file_token}/download`: a drive file.
    FileDownload,
    /// `GET /open-apis/authen/v1/authorize`: the OAuth consent page.
    OauthAuthorize,
    /// `POST /open-apis/authen/v2/oauth/token`: codes and refresh tokens for tokens.
    OauthToken,
    /// `GET /open-apis/authen/v1/user_info`: who a user token belongs to.
    UserInfo,
    Metrics,
    OpenApi,
    Healthz,
    Readyz,
    /// Everything under `/_admin/v1/` (the admin API routes its own paths).
    Admin,
    /// The web console's page and its two assets, under `/console` (while the admin API
    /// is on).
    Console,
}

/// The HTTP method an endpoint answers. `Get` endpoints answer `HEAD` too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    /// Any method (the admin API tells its own routes apart).
    Any,
}

/// The shape of an endpoint's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathPattern {
    Exact(&'static str),
    /// `prefix{param}suffix`, the parameter one path segment (empty names nothing, and
    /// the handler says so as it would of any unknown token).
    Param {
        prefix: &'static str,
        suffix: &'static str,
    },
    /// `prefix{param}middle{second}suffix`, each parameter one path segment.
    Param2 {
        prefix: &'static str,
        middle: &'static str,
        suffix: &'static str,
    },
    /// This path and everything below it.
    Prefix(&'static str),
}

/// Who may call an endpoint, checked before its handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, metrics, the OpenAPI document).
    Public,
    /// App credentials in the body (the token endpoints check them themselves).
    AppCredentials,
    /// A tenant or user access token holding any one of these scopes.
    Token(&'static [&'static str]),
    /// A user access token, whatever its scopes (`user_info`).
    UserToken,
    /// A signed `code` in the query: the link is the permission.
    SignedLink,
    /// The admin token (and the admin API switched on).
    AdminToken,
}

/// The rate limit an endpoint counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    None,
    /// The calling app's per-second and daily limit for this endpoint, per tenant
    /// (wire contract §6), its per-second rate multiplied by `times` (the bitable
    /// family allows 20/s where the media API allows 5), answered as `over` says.
    PerApp {
        times: u32,
        over: OverLimit,
    },
}

/// How an endpoint family answers a request over its rate limit: always code
/// `99991400`-like headers (`x-ogw-ratelimit-*`, `Retry-After`), but each family with
/// its own status and code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverLimit {
    /// HTTP 429, code `99991400` (the media API, sheets, bitable).
    TooMany,
    /// HTTP 400, code `99991400` (the older docx family).
    BadRequest,
    /// HTTP 200, code `1061045` (drive file downloads, as documented).
    CanRetry,
}

impl Limit {
    /// The media API's limit: the app's, 429 over it.
    pub const MEDIA: Limit = Limit::PerApp {
        times: 1,
        over: OverLimit::TooMany,
    };
}

/// A row of [`ENDPOINTS`].
#[derive(Debug, Clone, Copy)]
pub struct EndpointSpec {
    pub endpoint: Endpoint,
    /// The name in logs, metrics, rate-limit keys and fault rules.
    pub name: &'static str,
    pub method: Method,
    pub path: PathPattern,
    pub access: Access,
    pub limit: Limit,
    /// Fault rules may name it.
    pub faults: bool,
    /// A bodiless GET/HEAD of it may be answered by the `sendfile(2)` front.
    pub front: bool,
}

pub const TENANT_ACCESS_TOKEN: &str = "/open-apis/auth/v3/tenant_access_token/internal";
pub const APP_ACCESS_TOKEN: &str = "/open-apis/auth/v3/app_access_token/internal";
/// The prefix of media paths: `…/{file_token}/download` and the upload calls.
pub const MEDIAS: &str = "/open-apis/drive/v1/medias/";
pub const UPLOAD_ALL: &str = "/open-apis/drive/v1/medias/upload_all";
pub const UPLOAD_PREPARE: &str = "/open-apis/drive/v1/medias/upload_prepare";
pub const UPLOAD_PART: &str = "/open-apis/drive/v1/medias/upload_part";
pub const UPLOAD_FINISH: &str = "/open-apis/drive/v1/medias/upload_finish";
pub const BATCH_GET_TMP_DOWNLOAD_URL: &str =
    "/open-apis/drive/v1/medias/batch_get_tmp_download_url";
/// Temporary links are served under Feishu's own path.
pub const TMP_LINK: &str = "/space/api/box/stream/download/authcode/";
pub const DOCX_DOCUMENTS: &str = "/open-apis/docx/v1/documents/";
pub const SPREADSHEETS: &str = "/open-apis/sheets/v2/spreadsheets/";
pub const SPREADSHEETS_V3: &str = "/open-apis/sheets/v3/spreadsheets/";
pub const BITABLE_APPS: &str = "/open-apis/bitable/v1/apps/";
pub const DRIVE_FILES: &str = "/open-apis/drive/v1/files/";
pub const OAUTH_AUTHORIZE: &str = "/open-apis/authen/v1/authorize";
pub const OAUTH_TOKEN: &str = "/open-apis/authen/v2/oauth/token";
pub const USER_INFO: &str = "/open-apis/authen/v1/user_info";
pub const ADMIN: &str = "/_admin/v1";
pub const CONSOLE: &str = "/console";

const fn row(
    endpoint: Endpoint,
    name: &'static str,
    method: Method,
    path: PathPattern,
    access: Access,
    limit: Limit,
) -> EndpointSpec {
    EndpointSpec {
        endpoint,
        name,
        method,
        path,
        access,
        limit,
        faults: matches!(limit, Limit::PerApp { .. }),
        front: false,
    }
}

const fn exact(path: &'static str) -> PathPattern {
    PathPattern::Exact(path)
}

// Each endpoint's row sits at its place in the enum, for [`Endpoint::spec`].
const _: () = {
    let mut i = 0;
    while i < ENDPOINTS.len() {
        assert!(
            ENDPOINTS[i].endpoint as usize == i,
            "ENDPOINTS is out of the enum's order"
        );
        i += 1;
    }
    // Console is the last variant.
    assert!(
        ENDPOINTS.len() == Endpoint::Console as usize + 1,
        "an endpoint has no row"
    );
};

/// The table, one row per endpoint in the enum's order (checked above, for
/// [`Endpoint::spec`]). Where patterns overlap the first row that matches wins (the
/// upload paths come before `…/{file_token}/download`, which they never match anyway).
pub const ENDPOINTS: &[EndpointSpec] = &[
    row(
        Endpoint::TenantAccessToken,
        "tenant_access_token",
        Method::Post,
        exact(TENANT_ACCESS_TOKEN),
        Access::AppCredentials,
        Limit::None,
    ),
    row(
        Endpoint::AppAccessToken,
        "app_access_token",
        Method::Post,
        exact(APP_ACCESS_TOKEN),
        Access::AppCredentials,
        Limit::None,
    ),
    EndpointSpec {
        front: true,
        ..row(
            Endpoint::Download,
            "download",
            Method::Get,
            PathPattern::Param {
                prefix: MEDIAS,
                suffix: "/download",
            },
            Access::Token(scope::DOWNLOAD),
            Limit::MEDIA,
        )
    },
    row(
        Endpoint::UploadAll,
        "upload_all",
        Method::Post,
        exact(UPLOAD_ALL),
        Access::Token(scope::UPLOAD),
        Limit::MEDIA,
    ),
    row(
        Endpoint::UploadPrepare,
        "upload_prepare",
        Method::Post,
        exact(UPLOAD_PREPARE),
        Access::Token(scope::UPLOAD),
        Limit::MEDIA,
    ),
    row(
        Endpoint::UploadPart,
        "upload_part",
        Method::Post,
        exact(UPLOAD_PART),
        Access::Token(scope::UPLOAD),
        Limit::MEDIA,
    ),
    row(
        Endpoint::UploadFinish,
        "upload_finish",
        Method::Post,
        exact(UPLOAD_FINISH),
        Access::Token(scope::UPLOAD),
        Limit::MEDIA,
    ),
    row(
        Endpoint::BatchGetTmpDownloadUrl,
        "batch_get_tmp_download_url",
        Method::Get,
        exact(BATCH_GET_TMP_DOWNLOAD_URL),
        Access::Token(scope::DOWNLOAD),
        Limit::MEDIA,
    ),
    EndpointSpec {
        faults: true,
        front: true,
        ..row(
            Endpoint::TmpLink,
            "tmp_link",
            Method::Get,
            exact(TMP_LINK),
            Access::SignedLink,
            Limit::None,
        )
    },
    row(
        Endpoint::DocxDocument,
        "docx_document",
        Method::Get,
        PathPattern::Param {
            prefix: DOCX_DOCUMENTS,
            suffix: "",
        },
        Access::Token(scope::DOCX_READ),
        Limit::PerApp {
            times: 1,
            over: OverLimit::BadRequest,
        },
    ),
    row(
        Endpoint::DocxBlocks,
        "docx_blocks",
        Method::Get,
        PathPattern::Param {
            prefix: DOCX_DOCUMENTS,
            suffix: "/blocks",
        },
        Access::Token(scope::DOCX_READ),
        Limit::PerApp {
            times: 1,
            over: OverLimit::BadRequest,
        },
    ),
    row(
        Endpoint::SheetValues,
        "sheets_values_batch_get",
        Method::Get,
        PathPattern::Param {
            prefix: SPREADSHEETS,
            suffix: "/values_batch_get",
        },
        Access::Token(scope::SHEETS_READ),
        Limit::MEDIA,
    ),
    row(
        Endpoint::BitableSearch,
        "bitable_records_search",
        Method::Post,
        PathPattern::Param2 {
            prefix: BITABLE_APPS,
            middle: "/tables/",
            suffix: "/records/search",
        },
        Access::Token(scope::BITABLE_READ),
        Limit::PerApp {
            times: 4,
            over: OverLimit::TooMany,
        },
    ),
    row(
        Endpoint::SheetsQuery,
        "sheets_query",
        Method::Get,
        PathPattern::Param {
            prefix: SPREADSHEETS_V3,
            suffix: "/sheets/query",
        },
        Access::Token(scope::SHEETS_READ),
        Limit::MEDIA,
    ),
    row(
        Endpoint::BitableTables,
        "bitable_tables",
        Method::Get,
        PathPattern::Param {
            prefix: BITABLE_APPS,
            suffix: "/tables",
        },
        Access::Token(scope::BITABLE_READ),
        Limit::PerApp {
            times: 4,
            over: OverLimit::TooMany,
        },
    ),
    EndpointSpec {
        front: true,
        ..row(
            Endpoint::FileDownload,
            "file_download",
            Method::Get,
            PathPattern::Param {
                prefix: DRIVE_FILES,
                suffix: "/download",
            },
            Access::Token(scope::FILE_DOWNLOAD),
            Limit::PerApp {
                times: 1,
                over: OverLimit::CanRetry,
            },
        )
    },
    row(
        Endpoint::OauthAuthorize,
        "oauth_authorize",
        Method::Get,
        exact(OAUTH_AUTHORIZE),
        Access::Public,
        Limit::None,
    ),
    row(
        Endpoint::OauthToken,
        "oauth_token",
        Method::Post,
        exact(OAUTH_TOKEN),
        Access::AppCredentials,
        Limit::None,
    ),
    row(
        Endpoint::UserInfo,
        "user_info",
        Method::Get,
        exact(USER_INFO),
        Access::UserToken,
        Limit::None,
    ),
    row(
        Endpoint::Metrics,
        "metrics",
        Method::Get,
        exact("/metrics"),
        Access::Public,
        Limit::None,
    ),
    row(
        Endpoint::OpenApi,
        "openapi",
        Method::Get,
        exact("/openapi.json"),
        Access::Public,
        Limit::None,
    ),
    row(
        Endpoint::Healthz,
        "healthz",
        Method::Get,
        exact("/healthz"),
        Access::Public,
        Limit::None,
    ),
    row(
        Endpoint::Readyz,
        "readyz",
        Method::Get,
        exact("/readyz"),
        Access::Public,
        Limit::None,
    ),
    row(
        Endpoint::Admin,
        "admin",
        Method::Any,
        PathPattern::Prefix(ADMIN),
        Access::AdminToken,
        Limit::None,
    ),
    // The page holds no data: it asks the admin API, with the token the tester types.
    row(
        Endpoint::Console,
        "console",
        Method::Get,
        PathPattern::Prefix(CONSOLE),
        Access::Public,
        Limit::None,
    ),
];

/// A request matched against the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match<'a> {
    pub endpoint: Endpoint,
    /// The `{param}` segment, still percent-encoded.
    pub param: Option<&'a str>,
    /// The second parameter of a [`PathPattern::Param2`].
    pub second: Option<&'a str>,
}

impl Endpoint {
    /// This endpoint's row.
    pub fn spec(self) -> &'static EndpointSpec {
        // The rows are in the enum's order (checked when this compiles, above): every
        // layer asks for its request's row, so this is an index, not a search.
        &ENDPOINTS[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The endpoint `method` and `path` (without the query) name, if any. A known path
    /// with another method matches nothing (Feishu's gateway answers it 404).
    pub fn find<'a>(method: &str, path: &'a str) -> Option<Match<'a>> {
        ENDPOINTS.iter().find_map(|s| {
            let (param, second) = s.path.matches(path)?;
            s.method.allows(method).then_some(Match {
                endpoint: s.endpoint,
                param,
                second,
            })
        })
    }

    /// The names fault rules may use.
    pub fn fault_names() -> impl Iterator<Item = &'static str> {
        ENDPOINTS.iter().filter(|s| s.faults).map(|s| s.name)
    }

    /// The endpoint with this name.
    pub fn named(name: &str) -> Option<Self> {
        ENDPOINTS
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.endpoint)
    }
}

impl Method {
    fn allows(self, method: &str) -> bool {
        match self {
            Self::Get => method == "GET" || method == "HEAD",
            Self::Post => method == "POST",
            Self::Any => true,
        }
    }
}

impl PathPattern {
    /// `Some(params)` when `path` has this shape (the parameters it has, in order).
    fn matches(self, path: &str) -> Option<(Option<&str>, Option<&str>)> {
        let segment = |s: &'_ str| !s.contains('/');
        match self {
            Self::Exact(p) => (path == p).then_some((None, None)),
            Self::Prefix(p) => path
                .strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
                .then_some((None, None)),
            Self::Param { prefix, suffix } => {
                let param = path.strip_prefix(prefix)?.strip_suffix(suffix)?;
                segment(param).then_some((Some(param), None))
            }
            Self::Param2 {
                prefix,
                middle,
                suffix,
            } => {
                let both = path.strip_prefix(prefix)?.strip_suffix(suffix)?;
                let (first, second) = both.split_once(middle)?;
                (segment(first) && segment(second)).then_some((Some(first), Some(second)))
            }
        }
    }
}

/// The download path of a media (`file_token` percent-encoded where it must be).
pub fn download_path(file_token: &str) -> String {
    let token = percent_encoding::utf8_percent_encode(file_token, SEGMENT);
    format!("{MEDIAS}{token}/download")
}

/// Everything but RFC 3986's unreserved characters is escaped in a path segment.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A `{param}` segment, percent-decoded (lossily: a segment that is not UTF-8 names
/// nothing, and the lookup says so).
pub fn decode_param(param: &str) -> String {
    percent_encoding::percent_decode_str(param)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_has_one_row_and_a_unique_name() {
        let mut names = std::collections::HashSet::new();
        for s in ENDPOINTS {
            assert!(names.insert(s.name), "{} twice", s.name);
            assert_eq!(s.endpoint.spec().name, s.name);
            assert_eq!(Endpoint::named(s.name), Some(s.endpoint));
        }
    }

    #[test]
    fn matching() {
        let m = Endpoint::find("GET", "/open-apis/drive/v1/medias/box%41/download").unwrap();
        assert_eq!(m.endpoint, Endpoint::Download);
        assert_eq!(m.param, Some("box%41"));
        assert_eq!(decode_param(m.param.unwrap()), "boxA");
        assert_eq!(
            Endpoint::find("HEAD", &download_path("boxA")).map(|m| m.endpoint),
            Some(Endpoint::Download)
        );
        assert_eq!(Endpoint::find("POST", &download_path("boxA")), None);
        assert_eq!(
            Endpoint::find("GET", "/open-apis/drive/v1/medias//download").map(|m| m.param),
            Some(Some(""))
        );
        assert_eq!(
            Endpoint::find("GET", "/open-apis/drive/v1/medias/a/b/download"),
            None
        );
        assert_eq!(
            Endpoint::find("POST", UPLOAD_ALL).map(|m| m.endpoint),
            Some(Endpoint::UploadAll)
        );
        assert_eq!(Endpoint::find("GET", UPLOAD_ALL), None);
        assert_eq!(
            Endpoint::find("DELETE", "/_admin/v1/media/x").map(|m| m.endpoint),
            Some(Endpoint::Admin)
        );
        assert_eq!(Endpoint::find("GET", "/_admin/v10"), None);
        assert_eq!(Endpoint::find("GET", "/nope"), None);
        let m = Endpoint::find(
            "POST",
            "/open-apis/bitable/v1/apps/bas1/tables/tbl2/records/search",
        )
        .unwrap();
        assert_eq!(
            (m.endpoint, m.param, m.second),
            (Endpoint::BitableSearch, Some("bas1"), Some("tbl2"))
        );
        assert_eq!(
            Endpoint::find("GET", "/open-apis/docx/v1/documents/dox1").map(|m| m.endpoint),
            Some(Endpoint::DocxDocument)
        );
        assert_eq!(
            Endpoint::find("GET", "/open-apis/docx/v1/documents/dox1/blocks").map(|m| m.endpoint),
            Some(Endpoint::DocxBlocks)
        );
        assert_eq!(
            Endpoint::find("GET", TMP_LINK).map(|m| m.endpoint),
            Some(Endpoint::TmpLink)
        );
    }

    #[test]
    fn fault_rules_name_the_limited_endpoints_and_links() {
        let names: Vec<_> = Endpoint::fault_names().collect();
        assert_eq!(
            names,
            [
                "download",
                "upload_all",
                "upload_prepare",
                "upload_part",
                "upload_finish",
                "batch_get_tmp_download_url",
                "tmp_link",
                "docx_document",
                "docx_blocks",
                "sheets_values_batch_get",
                "bitable_records_search",
                "sheets_query",
                "bitable_tables",
                "file_download",
            ]
        );
    }

    #[test]
    fn download_paths_escape_what_a_segment_cannot_hold() {
        assert_eq!(
            download_path("a/b c"),
            "/open-apis/drive/v1/medias/a%2Fb%20c/download"
        );
        let m = Endpoint::find("GET", "/open-apis/drive/v1/medias/a%2Fb%20c/download").unwrap();
        assert_eq!(decode_param(m.param.unwrap()), "a/b c");
    }
}
