// Runs ComputeSDK's Runloop provider (@computesdk/runloop) unchanged: it builds its own RunloopSDK
// (HTTP/2, base URL from RUNLOOP_BASE_URL, key from RUNLOOP_API_KEY), and this drives its sandbox,
// filesystem, snapshot and template calls, then prints what it saw as one JSON line. Used by
// test_agent_computesdk.py. A failing step exits non-zero naming the step.
import { runloop } from '@computesdk/runloop';
import { compute as facade } from 'computesdk';

const step = async (name, fn) => {
  try {
    return await fn();
  } catch (error) {
    throw new Error(`${name}: ${error?.message ?? error}`);
  }
};
const out = {};
const compute = runloop({ apiKey: process.env.RUNLOOP_API_KEY });

const sandbox = await step('sandbox.create', () =>
  compute.sandbox.create({ envs: { WHO: 'csdk' }, metadata: { team: 'agents' } }),
);
out.id = sandbox.sandboxId;
const info = await step('getInfo', () => sandbox.getInfo());
out.info = { status: info.status, timeout: info.timeout, team: info.metadata.team };
const ran = await step('runCommand', () => sandbox.runCommand('echo hi $WHO; echo bad >&2; exit 4'));
out.run = { stdout: ran.stdout, stderr: ran.stderr, exitCode: ran.exitCode };
const inTmp = await step('runCommand cwd env', () =>
  sandbox.runCommand(`sh -c 'pwd; echo "$X"'`, { cwd: '/tmp', env: { X: 'y z' } }),
);
out.cwdEnv = inTmp.stdout;
const long = await step('runCommand long output', () => sandbox.runCommand('seq 1 100000'));
out.tail = long.stdout.trimEnd().split('\n'); // the execution view holds the last 100 lines
out.tail = [out.tail.length, out.tail[0], out.tail.at(-1)];

const fs = sandbox.filesystem;
await step('mkdir', () => fs.mkdir('/home/user/d/e'));
await step('writeFile', () => fs.writeFile('/home/user/d/e/f.txt', 'héllo\nworld\n'));
out.read = await step('readFile', () => fs.readFile('/home/user/d/e/f.txt'));
out.exists = await step('exists', () => fs.exists('/home/user/d/e/f.txt'));
out.readdir = (await step('readdir', () => fs.readdir('/home/user/d/e'))).map((e) => [e.name, e.type]);
await step('remove', () => fs.remove('/home/user/d'));
out.removed = !(await step('exists', () => fs.exists('/home/user/d')));

out.byId = (await step('sandbox.getById', () => compute.sandbox.getById(out.id)))?.sandboxId;
out.listed = (await step('sandbox.list', () => compute.sandbox.list())).map((s) => s.sandboxId);

await step('writeFile', () => fs.writeFile('/home/user/kept.txt', 'kept'));
const snap = await step('snapshot.create', () =>
  compute.snapshot.create(out.id, { name: 'csdk-snap', metadata: { k: 'v' } }),
);
out.snapshots = (await step('snapshot.list', () => compute.snapshot.list())).map((s) => s.id);
out.snapshot = snap.id;
const template = await step('template.create', () =>
  compute.template.create({ name: 'csdk-bp', system_setup_commands: ['echo baked > /home/user/baked'] }),
);
out.template = template.id;
out.templates = (await step('template.list', () => compute.template.list())).map((t) => t.id);
const fromTemplate = await step('create from template', () =>
  compute.sandbox.create({ templateId: template.id }),
);
out.baked = (await step('runCommand', () => fromTemplate.runCommand('cat /home/user/baked'))).stdout;
const fromSnap = await step('create from snapshot', () => compute.sandbox.create({ snapshotId: snap.id }));
out.restored = await step('readFile', () => fromSnap.filesystem.readFile('/home/user/kept.txt'));

try {
  out.url = await sandbox.getUrl({ port: 8080 }); // a tunnel: cloud only
} catch (error) {
  out.url = `refused: ${error.message}`;
}

for (const s of [fromTemplate, fromSnap]) await step('destroy', () => s.destroy());
await step('sandbox.destroy', () => compute.sandbox.destroy(out.id));
out.after = (await step('sandbox.getById', () => compute.sandbox.getById(out.id))).getInstance().status;
await step('snapshot.delete', () => compute.snapshot.delete(snap.id));
await step('template.delete', () => compute.template.delete(template.id));
out.templatesAfter = (await step('template.list', () => compute.template.list())).map((t) => t.id);

facade.setConfig({ provider: compute }); // its README's way: the provider behind `compute`
const viaFacade = await step('compute.sandbox.create', () => facade.sandbox.create());
out.facade = (await step('runCommand', () => viaFacade.runCommand('echo facade'))).stdout;
await step('destroy', () => viaFacade.destroy());
console.log(JSON.stringify(out));
