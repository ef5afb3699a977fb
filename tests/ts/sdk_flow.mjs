// Runs the official Runloop TypeScript SDK, with its default options (HTTP/2 on Node.js), against
// the server at RL_URL and prints what it saw as one JSON line. Used by test_typescript_sdk.py.
import { RunloopSDK } from '@runloop/api-client';

const sdk = new RunloopSDK({ baseURL: process.env.RL_URL, bearerToken: process.env.RL_TOKEN });
const out = {};

const devbox = await sdk.devbox.create({ name: 'ts-sdk' }); // awaits running
out.status = (await devbox.getInfo()).status;

const hello = await devbox.cmd.exec('echo hello');
out.exec = { stdout: await hello.stdout(), exitCode: hello.exitCode };

const shell = devbox.shell('work');
await shell.exec('cd /tmp && export V=42');
out.shell = await (await shell.exec('pwd; echo "V=$V"')).stdout();
out.unnamed = await (await devbox.cmd.exec('pwd; echo "V=$V"')).stdout();

await devbox.file.write({ file_path: 'hello.txt', contents: 'from ts' });
out.read = await devbox.file.read({ file_path: 'hello.txt' });

const snapshot = await devbox.snapshotDiskAsync({ name: 'ts-snap' });
out.snapshot = (await snapshot.awaitCompleted()).status;
const restored = await snapshot.createDevbox();
out.restored = await (await restored.cmd.exec('cat hello.txt')).stdout();

const object = await sdk.storageObject.uploadFromText('object body', 'ts.txt');
out.object = await object.downloadAsText();

for (let n = 0; n < 5; n++) await sdk.api.devboxes.create({ name: `page-${n}` });
const ids = [];
let page = await sdk.api.devboxes.list({ limit: 3 });
out.pages = 1;
ids.push(...page.devboxes.map((d) => d.id));
while (page.hasNextPage()) {
  page = await page.getNextPage();
  out.pages += 1;
  ids.push(...page.devboxes.map((d) => d.id));
}
out.listed = ids.length;
out.unique = new Set(ids).size;
const iterated = [];
for await (const d of sdk.api.devboxes.list({ limit: 3 })) iterated.push(d.id);
out.iterated = iterated.length;

console.log(JSON.stringify(out));
