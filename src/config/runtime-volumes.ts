// Asking a container runtime where a named volume lives: one command and one reading of its answer, shared by the
// backup (src/engine/volumes.ts) and by validate on a host (host-checks.ts).
import type {CommandSpec} from '../exec/spec.js'
import type {ContainerRuntime} from './types.js'

export const RUNTIMES: readonly ContainerRuntime[] = ['docker', 'podman']

/** What `volume inspect` is allowed to see: how to reach the runtime, never the backup's credentials. */
export const RUNTIME_ENV = ['PATH', 'HOME', 'USER', 'LANG', 'XDG_RUNTIME_DIR', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'DOCKER_HOST', 'DOCKER_CONTEXT', 'DOCKER_CONFIG', 'DOCKER_CERT_PATH', 'DOCKER_TLS_VERIFY', 'CONTAINER_HOST', 'CONTAINER_CONNECTION', 'CONTAINERS_CONF', 'CONTAINERS_STORAGE_CONF', 'CONTAINERS_REGISTRIES_CONF'] as const

/** `docker volume inspect --format {{.Mountpoint}} NAME`: the host directory, on one line. */
export function volumeInspectArgv(runtime: ContainerRuntime, name: string): CommandSpec {
  return {argv: [runtime, 'volume', 'inspect', '--format', '{{.Mountpoint}}', name], inheritEnv: RUNTIME_ENV, label: `${runtime} volume inspect ${name}`}
}

/** The runtime's last error line says the volume does not exist (Docker: "No such volume", Podman: "no such volume"
 *  or "no volume with name"), as opposed to a runtime that did not answer. */
export function saysVolumeMissing(stderr: string): boolean {
  return /no such volume|no volume with name|not found/i.test(stderr)
}
