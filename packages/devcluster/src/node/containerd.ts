/**
 * containerd 2 with the CRI plugin, everything under the cluster's directory: its root,
 * state, socket, runc root and CNI configuration, so two clusters (or a containerd of the
 * machine's own) never meet. Runs inside the cluster's network namespace; pods get their
 * own namespaces from the CNI bridge plugin. Images come from OCI archives (built by
 * scripts/build-images.sh), imported into the CRI's `k8s.io` namespace before the
 * kubelet starts: nothing is ever pulled.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { CourierError } from '@vault-courier/core';
import { startProcess, waitUntilReady, type ManagedProcess } from '../process.ts';
import { POD_CIDR, type NetworkNamespace } from './netns.ts';

const run = promisify(execFile);
export const CNI_BIN_DIR = '/usr/lib/cni';
export const RUNC = '/usr/sbin/runc';

export interface ContainerdPaths {
  readonly root: string;
  readonly state: string;
  readonly socket: string;
  readonly runcRoot: string;
  readonly cniConfDir: string;
  readonly cniDataDir: string;
  readonly config: string;
}

export function containerdPaths(dir: string): ContainerdPaths {
  const base = path.join(dir, 'containerd');
  return {
    root: path.join(base, 'root'),
    state: path.join(base, 'state'),
    socket: path.join(base, 'containerd.sock'),
    runcRoot: path.join(base, 'runc'),
    cniConfDir: path.join(base, 'net.d'),
    cniDataDir: path.join(base, 'cni-ipam'),
    config: path.join(base, 'config.toml'),
  };
}

/** The configuration that ran on this machine kind (see docs/real-parts.md for each line's reason). */
export function containerdConfig(paths: ContainerdPaths, pauseImage: string): string {
  return `version = 3
root = '${paths.root}'
state = '${paths.state}'
disabled_plugins = [
  'io.containerd.nri.v1.nri',
  'io.containerd.snapshotter.v1.btrfs',
  'io.containerd.snapshotter.v1.zfs',
  'io.containerd.snapshotter.v1.devmapper',
  'io.containerd.snapshotter.v1.blockfile',
  'io.containerd.snapshotter.v1.erofs',
  'io.containerd.tracing.processor.v1.otlp',
  'io.containerd.internal.v1.tracing',
  'io.containerd.grpc.v1.cri.image-verifier',
  'io.containerd.image-verifier.v1.bindir',
]

[grpc]
  address = '${paths.socket}'

[ttrpc]
  address = '${paths.socket}.ttrpc'

[plugins.'io.containerd.internal.v1.opt']
  path = '${path.join(paths.root, 'opt')}'

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = '${pauseImage}'

[plugins.'io.containerd.cri.v1.runtime']
  # Root here lacks CAP_SYS_RESOURCE: runc cannot set the sandbox's oom_score_adj -998.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  cdi_spec_dirs = []
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
    runtime_type = 'io.containerd.runc.v2'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
      BinaryName = '${RUNC}'
      Root = '${paths.runcRoot}'
      SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ['${CNI_BIN_DIR}']
    conf_dir = '${paths.cniConfDir}'
    max_conf_num = 1

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = '127.0.0.1'
  stream_server_port = '0'
`;
}

/** Bridge cni0 inside the cluster's namespace; no masquerade and no default route out: nothing leaves it. */
export function cniConfig(paths: ContainerdPaths): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'vault-courier',
      plugins: [
        {
          type: 'bridge',
          bridge: 'cni0',
          isGateway: true,
          // The pod's default route is the bridge: the node's address and Service IPs lie beyond it.
          isDefaultGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: { type: 'host-local', ranges: [[{ subnet: POD_CIDR }]], dataDir: paths.cniDataDir },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

export interface Containerd {
  readonly paths: ContainerdPaths;
  readonly process: ManagedProcess;
  readonly endpoint: string;
}

export async function startContainerd(options: {
  binDir: string;
  dir: string;
  netns: NetworkNamespace;
  logPath: string;
  pauseImage: string;
  timeoutMs: number;
}): Promise<Containerd> {
  const paths = containerdPaths(options.dir);
  await Promise.all([paths.root, paths.state, paths.runcRoot, paths.cniConfDir, paths.cniDataDir].map((d) => mkdir(d, { recursive: true, mode: 0o711 })));
  await writeFile(paths.config, containerdConfig(paths, options.pauseImage));
  await writeFile(path.join(paths.cniConfDir, '10-vault-courier.conflist'), cniConfig(paths));
  const proc = startProcess({
    name: 'containerd',
    command: path.join(options.binDir, 'containerd'),
    args: ['--config', paths.config],
    netns: options.netns.path,
    logPath: options.logPath,
    // Our v2 shim first: Debian's containerd 1.6 shim, if installed, cannot serve 2.x.
    env: { PATH: `${options.binDir}:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: options.dir },
  });
  const ctr = ctrCommand(options.binDir, paths.socket);
  try {
    await waitUntilReady(proc, async () => (await run(ctr[0] ?? '', [...ctr.slice(1), 'version'])).stdout.includes('Server'), options.timeoutMs);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { paths, process: proc, endpoint: `unix://${paths.socket}` };
}

function ctrCommand(binDir: string, socket: string): string[] {
  return [path.join(binDir, 'ctr'), '--address', socket, '--namespace', 'k8s.io'];
}

export interface ImageArchive {
  /** The fully qualified name the CRI looks up (`docker.io/vault-courier/init:dev`). */
  readonly ref: string;
  readonly archive: string;
}

/**
 * Imports OCI archives into the CRI's namespace; throws naming the archive that failed.
 * One after the other: the images share their base layers, and an import finds the
 * layers the one before it unpacked.
 */
export async function importImages(binDir: string, containerd: Containerd, images: readonly ImageArchive[]): Promise<void> {
  const ctr = ctrCommand(binDir, containerd.paths.socket);
  for (const image of images) {
    await (async () => {
      try {
        await run(ctr[0] ?? '', [...ctr.slice(1), 'images', 'import', '--snapshotter', 'overlayfs', image.archive]);
      } catch (cause) {
        const stderr = (cause as { stderr?: string }).stderr ?? '';
        throw new CourierError('io', `could not import image ${image.ref} from ${image.archive} into containerd: ${stderr.trim()}; rebuild it with: bash scripts/build-images.sh`, { cause });
      }
    })();
  }
  const listed = (await run(ctr[0] ?? '', [...ctr.slice(1), 'images', 'ls', '-q'])).stdout.split('\n');
  const missing = images.filter((i) => !listed.includes(i.ref));
  if (missing.length > 0) {
    throw new CourierError('io', `containerd lists no image ${missing.map((i) => i.ref).join(', ')} after importing; the archives name other refs: rebuild with bash scripts/build-images.sh`);
  }
}
