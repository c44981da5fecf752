//! `feishu-media admin …`: the admin API from the command line, as tables or `--json`.

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;
use std::path::PathBuf;

#[derive(Args)]
pub struct AdminArgs {
    /// Base URL of the server.
    #[arg(
        long,
        env = "FEISHU_MEDIA_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    url: String,
    /// The admin token (as given to `serve --admin-token`).
    #[arg(long, env = "FEISHU_MEDIA_ADMIN_TOKEN", hide_env_values = true)]
    token: String,
    /// Print the answer's `data` as JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Merge a manifest (the `--seed` format) into the world.
    Seed { file: PathBuf },
    /// Wipe everything and load the start-up manifests again.
    Reset,
    /// Show, replace or clear the fault rules.
    Faults {
        #[command(subcommand)]
        action: FaultsCommand,
    },
    /// The latest requests, newest first.
    Requests {
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// List the objects of a kind.
    List { kind: Kind },
    /// Show one object.
    Get { kind: Kind, id: String },
    /// Create or replace an object from a JSON file in the manifest's schema (`-`: stdin).
    Put { kind: Kind, file: PathBuf },
    /// Delete an object for good.
    Delete { kind: Kind, id: String },
    /// Add (or change) a member of a document.
    AddMember {
        document: String,
        principal: String,
        role: String,
    },
    /// Remove a member from a document.
    RemoveMember { document: String, principal: String },
    /// Mark a media deleted (downloads answer 404 1061007).
    SoftDelete { file_token: String },
    /// Undo a soft delete.
    Undelete { file_token: String },
}

#[derive(Subcommand)]
enum FaultsCommand {
    List,
    /// Replace every rule with those of a JSON file (`-`: stdin).
    Set {
        file: PathBuf,
    },
    Clear,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Apps,
    Users,
    UserTokens,
    Documents,
    Media,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::Apps => "apps",
            Kind::Users => "users",
            Kind::UserTokens => "user_tokens",
            Kind::Documents => "documents",
            Kind::Media => "media",
        }
    }

    /// The columns of this kind's table.
    fn columns(self) -> &'static [&'static str] {
        match self {
            Kind::Apps => &["app_id", "tenant_key", "scopes", "rate_limit"],
            Kind::Users => &["user_id", "tenant_key", "name"],
            Kind::UserTokens => &["hash", "app_id", "user_id", "scopes", "expires_at_ms"],
            Kind::Documents => &[
                "token",
                "doc_type",
                "tenant_key",
                "owner",
                "advanced_permission",
                "members",
            ],
            Kind::Media => &[
                "file_token",
                "document",
                "file_name",
                "mime_type",
                "size",
                "deleted",
            ],
        }
    }
}

/// The admin API answered with an error envelope.
#[derive(Debug, thiserror::Error)]
#[error("the server refused: HTTP {status}, code {code}: {msg}{hint}")]
pub struct Refused {
    status: u16,
    code: i64,
    msg: String,
    hint: String,
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}/_admin/v1{path}", self.base.trim_end_matches('/'));
        let mut req = self.http.request(method, &url).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.context("reading the answer")?;
        let v: Value = serde_json::from_str(&text).map_err(|_| Refused {
            status,
            code: 0,
            msg: text.trim().chars().take(200).collect(),
            hint: if status == 404 {
                " (is the admin API on? start the server with --admin-token)".into()
            } else {
                String::new()
            },
        })?;
        if status != 200 || v["code"] != 0 {
            let hint = v["error"]["troubleshooter"]
                .as_str()
                .map(|h| format!(" ({h})"))
                .unwrap_or_default();
            return Err(Refused {
                status,
                code: v["code"].as_i64().unwrap_or(0),
                msg: v["msg"].as_str().unwrap_or("").into(),
                hint,
            }
            .into());
        }
        Ok(v["data"].clone())
    }
}

impl Client {
    /// Every item of a listing, page after page.
    async fn list_all(&self, path: &str) -> anyhow::Result<Value> {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let query = match &token {
                None => format!("/{path}?page_size=1000"),
                Some(t) => format!("/{path}?page_size=1000&page_token={t}"),
            };
            let page = self.call(reqwest::Method::GET, &query, None).await?;
            if let Some(more) = page["items"].as_array() {
                items.extend(more.iter().cloned());
            }
            match page["page_token"].as_str() {
                Some(t) if page["has_more"] == true => token = Some(t.to_owned()),
                _ => return Ok(Value::Array(items)),
            }
        }
    }
}

fn read_input(file: &PathBuf) -> anyhow::Result<Vec<u8>> {
    if file.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
        Ok(buf)
    } else {
        std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
    }
}

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    use reqwest::Method;
    let client = Client {
        http: reqwest::Client::new(),
        base: args.url.clone(),
        token: args.token.clone(),
    };
    let (data, columns): (Value, &[&str]) = match &args.command {
        AdminCommand::Seed { file } => (
            client
                .call(Method::POST, "/seed", Some(read_input(file)?))
                .await?,
            &[],
        ),
        AdminCommand::Reset => (client.call(Method::POST, "/reset", None).await?, &[]),
        AdminCommand::Faults { action } => {
            let data = match action {
                FaultsCommand::List => client.call(Method::GET, "/faults", None).await?,
                FaultsCommand::Set { file } => {
                    client
                        .call(Method::PUT, "/faults", Some(read_input(file)?))
                        .await?
                }
                FaultsCommand::Clear => client.call(Method::DELETE, "/faults", None).await?,
            };
            (
                data,
                &[
                    "endpoint",
                    "file_token",
                    "app_id",
                    "times",
                    "every",
                    "probability",
                    "action",
                    "matched",
                    "fired",
                ],
            )
        }
        AdminCommand::Requests { limit } => (
            client
                .call(Method::GET, &format!("/requests?limit={limit}"), None)
                .await?,
            &[
                "method",
                "path",
                "app_id",
                "status",
                "code",
                "bytes",
                "duration_ms",
                "log_id",
            ],
        ),
        AdminCommand::List { kind } => (client.list_all(kind.path()).await?, kind.columns()),
        AdminCommand::Get { kind, id } => (
            client
                .call(Method::GET, &format!("/{}/{id}", kind.path()), None)
                .await?,
            &[],
        ),
        AdminCommand::Put { kind, file } => (
            client
                .call(
                    Method::POST,
                    &format!("/{}", kind.path()),
                    Some(read_input(file)?),
                )
                .await?,
            &[],
        ),
        AdminCommand::Delete { kind, id } => (
            client
                .call(Method::DELETE, &format!("/{}/{id}", kind.path()), None)
                .await?,
            &[],
        ),
        AdminCommand::AddMember {
            document,
            principal,
            role,
        } => {
            let body = serde_json::json!({"principal": principal, "role": role})
                .to_string()
                .into_bytes();
            (
                client
                    .call(
                        Method::POST,
                        &format!("/documents/{document}/members"),
                        Some(body),
                    )
                    .await?,
                &[],
            )
        }
        AdminCommand::RemoveMember {
            document,
            principal,
        } => (
            client
                .call(
                    Method::DELETE,
                    &format!("/documents/{document}/members/{principal}"),
                    None,
                )
                .await?,
            &[],
        ),
        AdminCommand::SoftDelete { file_token } => (
            client
                .call(Method::POST, &format!("/media/{file_token}/delete"), None)
                .await?,
            &[],
        ),
        AdminCommand::Undelete { file_token } => (
            client
                .call(Method::POST, &format!("/media/{file_token}/undelete"), None)
                .await?,
            &[],
        ),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&data)?);
    } else {
        print!("{}", render(&data, columns));
    }
    Ok(())
}

/// One cell: strings bare, lists joined, objects as compact JSON, absent as `-`.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(|i| !i.is_object()) => {
            items.iter().map(cell).collect::<Vec<_>>().join(",")
        }
        Value::Array(items) => format!("[{}]", items.len()),
        other => other.to_string(),
    }
}

/// A table for a list, `key: value` lines for an object.
fn render(data: &Value, columns: &[&str]) -> String {
    match data {
        Value::Array(rows) => {
            let columns: Vec<&str> = if columns.is_empty() {
                rows.first()
                    .and_then(Value::as_object)
                    .map(|o| o.keys().map(String::as_str).collect())
                    .unwrap_or_default()
            } else {
                columns.to_vec()
            };
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| columns.iter().map(|c| cell(&r[*c])).collect())
                .collect();
            let widths: Vec<usize> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    cells
                        .iter()
                        .map(|r| r[i].chars().count())
                        .chain([c.len()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let line = |values: Vec<String>| -> String {
                let padded: Vec<String> = values
                    .iter()
                    .zip(&widths)
                    .map(|(v, w)| format!("{v:<w$}"))
                    .collect();
                format!("{}\n", padded.join("  ").trim_end())
            };
            let mut out = line(columns.iter().map(|c| c.to_uppercase()).collect());
            for r in cells {
                out.push_str(&line(r));
            }
            out.push_str(&format!(
                "({} {})\n",
                rows.len(),
                if rows.len() == 1 { "row" } else { "rows" }
            ));
            out
        }
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}: {}\n", cell(v)))
            .collect(),
        other => format!("{}\n", cell(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_line_up() {
        let data = serde_json::json!([{"a": "x", "b": ["p", "q"]}, {"a": "longer", "b": null}]);
        assert_eq!(
            render(&data, &["a", "b"]),
            "A       B\nx       p,q\nlonger  -\n(2 rows)\n"
        );
        assert_eq!(render(&serde_json::json!({"k": 1}), &[]), "k: 1\n");
    }
}
