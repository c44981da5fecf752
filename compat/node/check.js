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
