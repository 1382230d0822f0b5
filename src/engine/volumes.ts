// Host mode: a path entry may name a volume of the container runtime (`{volume: myapp_storage, runtime: podman}`)
// instead of a directory. Each run asks the runtime where the volume lives on this host (`volume inspect`), so a
// moved data root is followed (inside a container the volume is mounted at /volumes/<name> instead); the snapshot's `path:` label comes from the volume's name and stays the same.
// The resolved directory is recorded in the run and in the snapshot's `volume:` tag, which is how a restore finds
// the volume's files in a snapshot written before the data root moved.
import {KamalBackupError} from '../errors.js'
import type {Executor} from '../exec/executor.js'
import type {ContainerRuntime, PathConfig} from '../config/types.js'
import {mountedVolumePath, volumeIdentity} from '../config/types.js'
import {RUNTIMES, saysVolumeMissing, volumeInspectArgv} from '../config/runtime-volumes.js'

/** What a run resolved: recorded in the run record (`volumes`). `mounted`: in a container, at /volumes/<name>. */
export interface ResolvedVolume {
  name: string
  runtime: ContainerRuntime | 'mounted'
  path: string
}


/** The identity of a path entry in records and comparisons: the directory, or `volume:<name>`. */
export function pathIdentity(p: Pick<PathConfig, 'path' | 'volume'>): string {
  return p.volume ? volumeIdentity(p.volume.name) : p.path
}

/** The tag a files snapshot carries for each volume it holds: `volume:<name>:<directory>`. */
export const volumeTag = (v: ResolvedVolume): string => `volume:${v.name}:${v.path}`

/** Where a path entry's files are inside a files snapshot: a directory is itself; a volume is the directory its
 *  snapshot's `volume:` tag records (where it was when the snapshot was taken). */
export function pathInSnapshot(identity: string, tags: readonly string[]): string {
  if (!identity.startsWith('volume:')) return identity
  const prefix = `${identity}:`
  const tag = tags.find((t) => t.startsWith(prefix))
  if (!tag) throw new KamalBackupError(`the file snapshot has no record of where volume ${identity.slice('volume:'.length)} was: it was not backed up in this run`, {code: 'restore/bad-snapshot', suggestions: ['restore a run taken since the volume was added to paths:']})
  return tag.slice(prefix.length)
}

/** The runtime for an entry: as configured, else docker when it is on PATH, else podman. */
function runtimeFor(p: PathConfig, exec: Executor, pathEnv: string | undefined): ContainerRuntime {
  if (p.volume?.runtime) return p.volume.runtime
  return RUNTIMES.find((r) => exec.which(r, pathEnv)) ?? 'docker'
}

/** Every volume entry made a directory entry (its host directory), with what was resolved. Nothing is backed up
 *  from a volume the runtime does not have: that is an error, never an empty snapshot. */
export async function resolveVolumes(paths: readonly PathConfig[], options: {exec: Executor; env: NodeJS.ProcessEnv; inAccessory: boolean; signal?: AbortSignal}): Promise<{paths: PathConfig[]; volumes: ResolvedVolume[]}> {
  const volumes: ResolvedVolume[] = []
  const out: PathConfig[] = []
  for (const p of paths) {
    if (!p.volume) {
      out.push(p)
      continue
    }
    const {name} = p.volume
    if (options.inAccessory) {
      // In a container (a Kamal accessory, Quadlet, Compose, a CronJob) the volume is mounted at /volumes/<name>:
      // the same kamal-backup.yml serves the host and the container. checkPaths proves it is a mount.
      const path = mountedVolumePath(name)
      volumes.push({name, runtime: 'mounted', path})
      out.push({...p, path})
      continue
    }
    const runtime = runtimeFor(p, options.exec, options.env.PATH)
    if (!options.exec.which(runtime, options.env.PATH)) {
      throw new KamalBackupError(`volume ${name}: ${runtime} is not installed on this host (not on PATH); nothing was backed up`, {
        code: 'backup/runtime-missing',
        suggestions: [`install ${runtime}, or set runtime: ${runtime === 'docker' ? 'podman' : 'docker'} on this path entry if the volume belongs to that runtime`],
      })
    }
    const spec = volumeInspectArgv(runtime, name)
    const result = await options.exec.run(spec, {...(options.signal && {signal: options.signal}), timeoutMs: 30_000})
    const path = result.stdout.trim().split('\n')[0]?.trim() ?? ''
    if (result.exitCode !== 0 || !path.startsWith('/')) {
      const said = result.stderr.trim().split('\n').pop() ?? ''
      const missing = saysVolumeMissing(said)
      throw new KamalBackupError(
        missing
          ? `volume ${name} does not exist in ${runtime} on this host; nothing was backed up`
          : `volume ${name}: \`${runtime} volume inspect\` failed${said ? ` (${said})` : ''}; nothing was backed up`,
        {
          code: missing ? 'backup/volume-missing' : 'backup/runtime-failed',
          suggestions: missing
            ? [`list the volumes with \`${runtime} volume ls\`: Compose prefixes its project name (myapp_storage), and a rootless ${runtime} keeps other volumes than root's`]
            : [`run \`${runtime} volume inspect ${name}\` as the user the backup runs as`],
        },
      )
    }
    volumes.push({name, runtime, path})
    out.push({...p, path})
  }
  return {paths: out, volumes}
}
