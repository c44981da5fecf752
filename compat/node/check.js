// The official Node SDK (@larksuiteoapi/node-sdk) against a feishu-media server,
// base URL changed only. Usage: node check.js BASE_URL FIXTURES_DIR
'use strict';
const fs = require('fs');
const path = require('path');
const lark = require('@larksuiteoapi/node-sdk');

const [base, fixtures] = process.argv.slice(2);
const image = fs.readFileSync(path.join(fixtures, '架构图.png'));
const large = fs.readFileSync(path.join(fixtures, 'large.bin'));

const client = new lark.Client({
  appId: 'cli_compat',
  appSecret: 'compat-secret',
  domain: base,
  // The SDK logs every failed request whole; the expected 404 below would flood the output.
  logger: { error() {}, warn() {}, info() {}, debug() {}, trace() {} },
});

let passed = 0;
let failed = 0;
function check(name, cond, detail = '') {
  if (cond) {
    passed += 1;
    console.log(`ok   node: ${name}`);
  } else {
    failed += 1;
    console.log(`FAIL node: ${name} ${detail}`);
  }
}

async function collect(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks);
}

async function main() {
  const whole = await client.drive.media.download({ path: { file_token: 'boxcnCompatImage' } });
  check('download bytes are identical', (await collect(whole.getReadableStream())).equals(image));
  const cd = whole.headers['content-disposition'] || '';
  check('Content-Disposition carries filename*', cd.includes("filename*=UTF-8''%E6%9E%B6%E6%9E%84%E5%9B%BE.png"), cd);

  const big = await client.drive.media.download({ path: { file_token: 'boxcnCompatLarge' } });
  check('300 KiB download is identical', (await collect(big.getReadableStream())).equals(large));

  const part = await client.drive.media.download(
    { path: { file_token: 'boxcnCompatLarge' } },
    { headers: { Range: 'bytes=-4096' } },
  );
  check('Range bytes are the slice', (await collect(part.getReadableStream())).equals(large.subarray(large.length - 4096)));
  check('Content-Range is exact', part.headers['content-range'] === `bytes ${large.length - 4096}-${large.length - 1}/${large.length}`,
    part.headers['content-range']);

  const asUser = await client.drive.media.download(
    { path: { file_token: 'boxcnCompatImage' } },
    lark.withUserAccessToken('u-compat'),
  );
  check('user token download', (await collect(asUser.getReadableStream())).equals(image));
  // A user token without a download scope proves the user token is what was sent.
  try {
    await client.drive.media.download(
      { path: { file_token: 'boxcnCompatImage' } },
      lark.withUserAccessToken('u-compat-noscope'),
    );
    check('the user token is what was sent', false, 'no error thrown');
  } catch (e) {
    const body = e.response && e.response.data ? JSON.parse((await collect(e.response.data)).toString()) : {};
    check('the user token is what was sent', body.code === 99991679, JSON.stringify(body));
  }

  const target = path.join(fs.mkdtempSync(path.join(require('os').tmpdir(), 'fm-')), 'out.png');
  await (await client.drive.media.download({ path: { file_token: 'boxcnCompatImage' } })).writeFile(target);
  check('writeFile writes the bytes', fs.readFileSync(target).equals(image));

  try {
    await client.drive.media.download({ path: { file_token: 'boxcnNoSuchMedia' } });
    check('unknown media is an error', false, 'no error thrown');
  } catch (e) {
    const status = e.response && e.response.status;
    check('unknown media answers 404', status === 404, String(status));
    const body = e.response && e.response.data ? JSON.parse((await collect(e.response.data)).toString()) : {};
    check('unknown media gives 1061003', body.code === 1061003, JSON.stringify(body));
  }

  const extra = JSON.stringify({ bitablePerm: { tableId: 'tblCompat', attachments: { fldCompat: { recCompat: ['boxcnCompatBitable'] } } } });
  const bit = await client.drive.media.download({ path: { file_token: 'boxcnCompatBitable' }, params: { extra } });
  check('bitable with extra', (await collect(bit.getReadableStream())).toString() === 'a,b\n1,2\n');

  // Uploads: a Buffer and a file stream, as the SDK's docs show both.
  const up = await client.drive.media.uploadAll({
    data: {
      file_name: '节点上传.png',
      parent_type: 'docx_image',
      parent_node: 'blkCompat',
      size: image.length,
      extra: JSON.stringify({ drive_route_token: 'doxcnCompat' }),
      file: image,
    },
  });
  check('uploadAll with a Buffer', up && typeof up.file_token === 'string', JSON.stringify(up));
  const back = await client.drive.media.download({ path: { file_token: up.file_token } });
  check('uploaded Buffer downloads identical', (await collect(back.getReadableStream())).equals(image));

  const up2 = await client.drive.media.uploadAll({
    data: {
      file_name: 'large.bin',
      parent_type: 'docx_file',
      parent_node: 'blkCompat',
      size: large.length,
      extra: JSON.stringify({ drive_route_token: 'doxcnCompat' }),
      file: fs.createReadStream(path.join(fixtures, 'large.bin')),
    },
  });
  check('uploadAll with a ReadStream', up2 && typeof up2.file_token === 'string', JSON.stringify(up2));
  const back2 = await client.drive.media.download({ path: { file_token: up2.file_token } });
  check('uploaded stream downloads identical', (await collect(back2.getReadableStream())).equals(large));

  const tmp = await client.drive.media.batchGetTmpDownloadUrl({ params: { file_tokens: ['boxcnCompatImage', up2.file_token] } });
  check('batchGetTmpDownloadUrl', tmp.code === 0 && tmp.data.tmp_download_urls.length === 2, JSON.stringify(tmp));
  const link = tmp.data.tmp_download_urls.find((u) => u.file_token === up2.file_token).tmp_download_url;
  const res = await fetch(link, { headers: { Range: 'bytes=0-99' } });
  check('temporary link honours Range', res.status === 206 && Buffer.from(await res.arrayBuffer()).equals(large.subarray(0, 100)), String(res.status));
  // Documents: list first, download second. listWithIterator follows page_token itself.
  const doc = await client.docx.v1.document.get({ path: { document_id: 'doxcnCompat' } });
  check('docx document', doc.code === 0 && doc.data.document.title === '兼容性文档', JSON.stringify(doc));
  const blocks = [];
  let pages = 0;
  for await (const page of await client.docx.v1.documentBlock.listWithIterator({
    path: { document_id: 'doxcnCompat' },
    params: { page_size: 2 },
  })) {
    pages += 1;
    blocks.push(...(page.items || []));
  }
  check('docx blocks across pages', pages >= 3 && blocks[0].block_type === 1, `${pages} pages`);
  const imageBlocks = blocks.filter((b) => b.block_type === 27);
  check('image blocks carry tokens', imageBlocks.length >= 1 && imageBlocks[0].image.token === 'boxcnCompatImage');
  for (const b of imageBlocks) {
    const got = await collect((await client.drive.media.download({ path: { file_token: b.image.token } })).getReadableStream());
    check(`image block ${b.block_id} downloads`, got.length > 0 && got.subarray(0, 8).equals(image.subarray(0, 8)));
  }

  const found = await client.bitable.v1.appTableRecord.search({
    path: { app_token: 'bascnCompat', table_id: 'tblCompat' },
    params: { page_size: 500 },
    data: { filter: { conjunction: 'and', conditions: [{ field_name: '附件', operator: 'isNotEmpty', value: [] }] } },
  });
  check('bitable search with a filter', found.code === 0 && found.data.total === 2, JSON.stringify(found));
  for (const rec of found.data.items) {
    for (const att of rec.fields['附件'] || []) {
      const u = new URL(att.url);
      const res = await client.drive.media.download({
        path: { file_token: att.file_token },
        params: { extra: u.searchParams.get('extra') },
      });
      const got = await collect(res.getReadableStream());
      check(`${att.file_token} through its url's extra`, got.length === att.size, `${got.length} vs ${att.size}`);
      const t = new URL(att.tmp_url);
      const links = await client.drive.media.batchGetTmpDownloadUrl({
        params: { file_tokens: t.searchParams.getAll('file_tokens'), extra: t.searchParams.get('extra') },
      });
      const fetched = await fetch(links.data.tmp_download_urls[0].tmp_download_url);
      check(`${att.file_token} through its tmp_url`, Buffer.from(await fetched.arrayBuffer()).length === att.size);
    }
  }

  const drive = await client.drive.v1.file.download({ path: { file_token: 'boxcnCompatDrive' } });
  check('drive file download', (await collect(drive.getReadableStream())).equals(large));
  const driveRange = await client.drive.v1.file.download(
    { path: { file_token: 'boxcnCompatDrive' } },
    { headers: { Range: 'bytes=0-99' } },
  );
  check('drive file by range', (await collect(driveRange.getReadableStream())).equals(large.subarray(0, 100)));
}

main()
  .catch((e) => {
    failed += 1;
    console.log(`FAIL node: unexpected error ${e && e.stack ? e.stack : e}`);
  })
  .finally(() => {
    console.log(`node @larksuiteoapi/node-sdk: ${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
  });
