/**
 * The images the process runner can run: the project's own binaries, each mapped to the
 * local command that stands in for it. Any other image is refused with a clear status
 * rather than faked, so a test never passes on a container that did not run.
 */
import path from 'node:path';

export interface LocalImage {
  /** What runs on this machine in place of the image. */
  readonly argv: readonly string[];
  /**
   * The program inside the real image (its Dockerfile's ENTRYPOINT). A container whose
   * `command` names it runs `argv`; any other command cannot be run without the image.
   */
  readonly entrypoint?: readonly string[];
}

/** Image reference, exactly as written in the pod → how to run it here. */
export type ImageMap = Readonly<Record<string, LocalImage>>;

/** The image names the demo and the end-to-end tests give the webhook and the Deployment. */
export const LOCAL_IMAGES = {
  init: 'vault-courier/init:dev',
  sidecar: 'vault-courier/sidecar:dev',
  demoApp: 'vault-courier/demo-app:dev',
} as const;

/**
 * The project's images run from this checkout with the Node that runs the caller; the
 * TypeScript sources run directly (Node strips types), so no bundle is needed.
 */
export function projectImages(repoRoot: string, node: string = process.execPath): ImageMap {
  const main = (pkg: string): readonly string[] => [node, path.join(repoRoot, 'packages', pkg, 'src', 'main.ts')];
  return {
    [LOCAL_IMAGES.init]: { argv: main('init'), entrypoint: ['node', '/app/init.mjs'] },
    [LOCAL_IMAGES.sidecar]: { argv: main('sidecar'), entrypoint: ['node', '/app/sidecar.mjs'] },
    [LOCAL_IMAGES.demoApp]: { argv: main('demo-app') },
  };
}

export type ImageResolution =
  | { readonly ok: true; readonly argv: readonly string[] }
  | { readonly ok: false; readonly reason: 'ErrImageNeverPull' | 'CreateContainerConfigError'; readonly message: string };

/** The local argv for a container's image and command (the spec's args are appended by the caller). */
export function resolveImage(images: ImageMap, image: string | undefined, command: readonly string[] = []): ImageResolution {
  const local = image === undefined ? undefined : images[image];
  if (local === undefined || local.argv.length === 0) {
    const known = Object.keys(images).sort().join(', ');
    return {
      ok: false,
      reason: 'ErrImageNeverPull',
      message: `the process runner runs only ${known}; image "${image ?? ''}" is not one of them (use one of these, or run the pod on a real cluster)`,
    };
  }
  const ownEntrypoint = local.entrypoint !== undefined && command.length === local.entrypoint.length && command.every((arg, i) => arg === local.entrypoint?.[i]);
  if (command.length > 0 && !ownEntrypoint) {
    return {
      ok: false,
      reason: 'CreateContainerConfigError',
      message: `the process runner runs image "${image}" only through its own entrypoint (${JSON.stringify(local.entrypoint ?? [])}); command ${JSON.stringify(command)} needs the real image`,
    };
  }
  return { ok: true, argv: local.argv };
}
