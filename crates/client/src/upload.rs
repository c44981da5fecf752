//! Uploads: `upload_all` up to 20 MiB, the chunked calls above, Adler-32 sent with every
//! part; failed parts are retried by the request path.

use crate::client::Client;
use crate::error::{Error, Result};
use feishu_media_proto::upload::{
    Adler32, BLOCK_SIZE, FileTokenData, FinishRequest, PrepareData, PrepareRequest, UPLOAD_ALL_MAX,
    block_len,
};
use futures_util::StreamExt;
use std::path::Path;

/// Blocks of one chunked upload sent at once.
const PARALLEL_BLOCKS: usize = 3;

/// Where an upload goes (`parent_type`, `parent_node`, `extra` as Feishu defines them).
#[derive(Debug, Clone)]
pub struct UploadTarget {
    pub parent_type: String,
    pub parent_node: String,
    pub extra: Option<String>,
}

impl Client {
    /// Uploads bytes of at most 20 MiB with `upload_all`.
    pub async fn upload_all(
        &self,
        file_name: &str,
        bytes: Vec<u8>,
        target: &UploadTarget,
    ) -> Result<String> {
        if bytes.len() as u64 > UPLOAD_ALL_MAX {
            return Err(Error::Invalid(
                "upload_all takes at most 20 MiB; use upload_file".into(),
            ));
        }
        let url = self.url("/open-apis/drive/v1/medias/upload_all");
        let checksum = Adler32::of(&bytes).to_string();
        let size = bytes.len().to_string();
        let bytes = bytes::Bytes::from(bytes);
        let answer = self
            .send(
                |http, auth| {
                    let mut form = reqwest::multipart::Form::new()
                        .text("file_name", file_name.to_owned())
                        .text("parent_type", target.parent_type.clone())
                        .text("parent_node", target.parent_node.clone())
                        .text("size", size.clone())
                        .text("checksum", checksum.clone());
                    if let Some(e) = &target.extra {
                        form = form.text("extra", e.clone());
                    }
                    let part = reqwest::multipart::Part::stream(bytes.clone())
                        .file_name(file_name.to_owned());
                    http.post(&url)
                        .header("Authorization", auth)
                        .multipart(form.part("file", part))
                },
                &[],
            )
            .await?;
        let data: FileTokenData = Self::json_data(answer).await?;
        Ok(data.file_token)
    }

    /// Uploads a file: `upload_all` when it fits, else prepare, every block, finish.
    /// `on_bytes` is told how many bytes went up after each request.
    pub async fn upload_file(
        &self,
        path: &Path,
        file_name: &str,
        target: &UploadTarget,
        on_bytes: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<String> {
        let size = tokio::fs::metadata(path).await?.len();
        if size <= UPLOAD_ALL_MAX {
            let bytes = tokio::fs::read(path).await?;
            let token = self.upload_all(file_name, bytes, target).await?;
            on_bytes(size);
            return Ok(token);
        }
        let url = self.url("/open-apis/drive/v1/medias/upload_prepare");
        let prepare = PrepareRequest {
            file_name: file_name.to_owned(),
            parent_type: target.parent_type.clone(),
            parent_node: target.parent_node.clone(),
            size: size as i64,
            extra: target.extra.clone(),
        };
        let answer = self
            .send(
                |http, auth| http.post(&url).header("Authorization", auth).json(&prepare),
                &[],
            )
            .await?;
        let plan: PrepareData = Self::json_data(answer).await?;
        if plan.block_size != BLOCK_SIZE {
            return Err(Error::Inconsistent(format!(
                "block size {} where {BLOCK_SIZE} was expected",
                plan.block_size
            )));
        }
        // Blocks go up a few at a time, so the client's reading and the server's writing
        // overlap; each is read from the file with a positioned read, only when sent.
        let file = std::sync::Arc::new(std::fs::File::open(path)?);
        let url = self.url("/open-apis/drive/v1/medias/upload_part");
        let upload_id = plan.upload_id.clone();
        let results: Vec<Result<u64>> = futures_util::stream::iter(0..plan.block_num)
            .map(|seq| {
                let (file, url, upload_id) = (file.clone(), url.clone(), upload_id.clone());
                async move {
                    let len = block_len(size, seq);
                    let block = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
                        use std::os::unix::fs::FileExt;
                        let mut block = vec![0u8; len as usize];
                        file.read_exact_at(&mut block, seq * BLOCK_SIZE)?;
                        Ok(block)
                    })
                    .await
                    .map_err(|e| Error::Invalid(format!("read task: {e}")))??;
                    let checksum = Adler32::of(&block).to_string();
                    let block = bytes::Bytes::from(block);
                    let answer = self
                        .send(
                            |http, auth| {
                                let form = reqwest::multipart::Form::new()
                                    .text("upload_id", upload_id.clone())
                                    .text("seq", seq.to_string())
                                    .text("size", len.to_string())
                                    .text("checksum", checksum.clone())
                                    .part(
                                        "file",
                                        reqwest::multipart::Part::stream(block.clone())
                                            .file_name("blob"),
                                    );
                                http.post(&url)
                                    .header("Authorization", auth)
                                    .multipart(form)
                            },
                            &[],
                        )
                        .await?;
                    let _: serde_json::Value = Self::json_data(answer).await?;
                    on_bytes(len);
                    Ok(len)
                }
            })
            .buffer_unordered(PARALLEL_BLOCKS)
            .collect()
            .await;
        for r in results {
            r?;
        }
        let url = self.url("/open-apis/drive/v1/medias/upload_finish");
        let finish = FinishRequest {
            upload_id: plan.upload_id.clone(),
            block_num: plan.block_num as i64,
        };
        let answer = self
            .send(
                |http, auth| http.post(&url).header("Authorization", auth).json(&finish),
                &[],
            )
            .await?;
        let data: FileTokenData = Self::json_data(answer).await?;
        Ok(data.file_token)
    }
}
