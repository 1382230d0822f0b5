// Podman Quadlet: a .container unit for the kamal-backup image running its own scheduler (`kamal-backup schedule`,
// the image's command), as a Kamal accessory would. Volumes are mounted where the image reads them (/volumes/<name>),
// read-only unless a SQLite database lives there; host directories at the same path; the config read-only at
// /app/config/kamal-backup.yml; state on a volume of its own; every secret a Podman secret given as an environment
// variable. A .volume unit creates the state volume.
import {ACCESSORY_CONFIG_PATH} from '../config/types.js'
import {header, type Deployment, type GeneratedFile} from './deployment.js'
import {timerUnit} from './systemd.js'

export function quadletName(d: Deployment): string {
  return `${d.slug}-backup`
}

/** The Podman secret that holds the environment variable `name`. */
export const podmanSecret = (d: Deployment, name: string): string => `${d.slug}-${name.toLowerCase().replace(/_/g, '-')}`

export function generateQuadlet(d: Deployment, options: {oneshot?: boolean} = {}): GeneratedFile[] {
  return options.oneshot ? [...files(d, true), timer(d)] : files(d, false)
}

function files(d: Deployment, oneshot: boolean): GeneratedFile[] {
  const name = quadletName(d)
  const stateVolume = `${name}-state`
  const container = [
    header('#', d, 'quadlet'),
    '#',
    '# Install (as root; rootless: ~/.config/containers/systemd/):',
    `#   install -m 0644 ${name}.container ${stateVolume}.volume /etc/containers/systemd/`,
    `#   install -D -m 0644 <your kamal-backup.yml> ${d.hostConfig}`,
    '#   then one Podman secret per value the config reads (typed, never in a file):',
    ...d.secrets.map((s) => `#     printf '%s' "$${s}" | podman secret create ${podmanSecret(d, s)} -`),
    ...(oneshot
      ? [`#   install -m 0644 ${name}.timer /etc/systemd/system/ (or beside the .container)`, `#   systemctl daemon-reload && systemctl enable --now ${name}.timer`, `# One run now: systemctl start ${name}.service; follow it: journalctl -u ${name}.service -f`]
      : [`#   systemctl daemon-reload && systemctl start ${name}.service`, `# Follow it: journalctl -u ${name}.service -f   Run a command in it: podman exec ${name} kamal-backup list`]),
    '',
    '[Unit]',
    oneshot ? `Description=kamal-backup: one backup of ${d.app} (started by ${name}.timer)` : `Description=kamal-backup: scheduled backups of ${d.app} (${d.scheduleText})`,
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Container]',
    `ContainerName=${name}`,
    oneshot ? '# The kamal-backup image, for one run: the timer keeps backup.schedule.' : `# The kamal-backup image (its command is \`kamal-backup schedule\`, which keeps backup.schedule).`,
    `Image=${d.image}`,
    ...(oneshot ? ['Exec=kamal-backup backup --on-schedule'] : []),
    `Volume=${d.hostConfig}:${ACCESSORY_CONFIG_PATH}:ro`,
    `Volume=${stateVolume}.volume:${d.containerStateDir}`,
    ...d.volumes.map((v) => `Volume=${v.name}:${v.mountedAt}${v.writable ? '' : ':ro'}`),
    ...d.directories.map((dir) => `Volume=${dir.path}:${dir.path}${dir.writable ? '' : ':ro'}`),
    ...d.files.map((file) => `Volume=${file}:${file}:ro`),
    ...d.secrets.map((s) => `Secret=${podmanSecret(d, s)},type=env,target=${s}`),
    '# Reach databases on the host and publish nothing.',
    'Network=host',
    '',
    '[Service]',
    ...(oneshot
      ? ['Type=oneshot', 'TimeoutStartSec=6h', '# A run stopped midway gets time to remove its restic lock.', 'TimeoutStopSec=120', '']
      : ['Restart=always', 'RestartSec=30', '# The scheduler stops between runs; a run in progress gets time to remove its restic lock.', 'TimeoutStopSec=120', '', '[Install]', 'WantedBy=multi-user.target default.target', '']),
  ].join('\n')
  const volume = [header('#', d, 'quadlet'), `# Run records, check results and drill evidence of ${d.app}: they must survive a new container.`, '', '[Volume]', `VolumeName=${stateVolume}`, ''].join('\n')
  return [
    {name: `${name}.container`, content: container},
    {name: `${stateVolume}.volume`, content: volume},
  ]
}

/** --oneshot: the timer that starts the one-run container (a plain systemd timer: Quadlet has no timer units). */
function timer(d: Deployment): GeneratedFile {
  return {name: `${quadletName(d)}.timer`, content: timerUnit(d, 'quadlet', quadletName(d))}
}
