// Docker Compose (or podman-compose): a file to merge with the app's compose.yaml (`docker compose -f compose.yaml
// -f compose.kamal-backup.yaml up -d`): the kamal-backup image running its scheduler on the project's network (the
// databases are reached by their service names), the app's volumes by name (external: their real names, Compose
// must not prefix them again) at /volumes/<name>, host directories at the same path, credentials from an env_file.
import {stringify} from 'yaml'
import {ACCESSORY_CONFIG_PATH} from '../config/types.js'
import {header, type Deployment, type GeneratedFile} from './deployment.js'
import {environmentTemplate} from './systemd.js'

export const COMPOSE_FILE = 'compose.kamal-backup.yaml'

export function generateCompose(d: Deployment): GeneratedFile[] {
  const stateVolume = 'kamal_backup_state'
  const mounts = (readOnly: boolean) => [
    `./kamal-backup.yml:${ACCESSORY_CONFIG_PATH}:ro`,
    `${stateVolume}:${d.containerStateDir}`,
    ...d.volumes.map((v) => `${v.name}:${v.mountedAt}${readOnly && !v.writable ? ':ro' : ''}`),
    ...d.directories.map((dir) => `${dir.path}:${dir.path}${readOnly && !dir.writable ? ':ro' : ''}`),
    ...d.files.map((file) => `${file}:${file}:ro`),
  ]
  const doc = {
    services: {
      // The scheduler reads the data read-only: a backup can never change it.
      backup: {image: d.image, restart: 'unless-stopped', env_file: ['kamal-backup.env'], volumes: mounts(true), stop_grace_period: '2m'},
      // Restores write: the same mounts read-write, started only when asked (profile restore).
      restore: {image: d.image, profiles: ['restore'], env_file: ['kamal-backup.env'], volumes: mounts(false), command: ['kamal-backup', 'restore', 'production', '--help']},
    },
    volumes: {
      [stateVolume]: {},
      ...Object.fromEntries(d.volumes.map((v) => [v.name, {external: true}])),
    },
  }
  const content = [
    header('#', d, 'compose'),
    '#',
    '# Merge with the app\'s compose.yaml, in the same directory:',
    `#   cp <your kamal-backup.yml> kamal-backup.yml; install -m 0600 kamal-backup.env.example kamal-backup.env (fill it in)`,
    `#   docker compose -f compose.yaml -f ${COMPOSE_FILE} up -d backup`,
    `# Commands: docker compose -f compose.yaml -f ${COMPOSE_FILE} exec backup kamal-backup list`,
    `# Restore (writes the data, so from the restore service): docker compose -f compose.yaml -f ${COMPOSE_FILE} \\`,
    `#   --profile restore run --rm restore kamal-backup restore production`,
    '# Volumes are named as `docker volume ls` lists them (Compose prefixes the project: myapp_storage).',
    '',
    stringify(doc, {lineWidth: 0}).trimEnd(),
    '',
  ].join('\n')
  return [
    {name: COMPOSE_FILE, content},
    {name: 'kamal-backup.env.example', content: environmentTemplate(d, 'install -m 0600 kamal-backup.env.example kamal-backup.env')},
  ]
}
