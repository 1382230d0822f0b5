// Host mode under systemd: kamal-backup installed on the host (npm install -g kamal-backup), one oneshot service
// run by a timer that keeps backup.schedule. The service runs as a dedicated user that reads every backed-up path
// through CAP_DAC_READ_SEARCH (as restic documents for non-root backups) and can write only its state directory.
// Asking Docker or Podman where a volume lives is root-equivalent (the docker group, root's podman storage), and
// SQLite writes beside the database it reads, so a config with volume entries or SQLite databases runs the service
// as root instead, still with the file system read-only but the state (and the SQLite directories).
import {header, type Deployment, type GeneratedFile} from './deployment.js'

export function systemdUnitName(d: Deployment): string {
  return `kamal-backup-${d.slug}`
}

export function generateSystemd(d: Deployment): GeneratedFile[] {
  const unit = systemdUnitName(d)
  const state = `/var/lib/kamal-backup/${d.slug}`
  const envFile = `/etc/kamal-backup/${d.slug}.env`
  const podman = d.volumes.some((v) => v.runtime === 'podman') || (d.usesVolumes && d.volumes.some((v) => !v.runtime))
  // A database in a file is read by its own engine, which writes beside it (SQLite's WAL index): those directories
  // stay writable, and only root (or the app's own user) can write there.
  const writable = d.directories.filter((x) => x.writable).map((x) => x.path)
  const asRoot = d.usesVolumes || writable.length > 0
  const why = d.usesVolumes ? '`docker/podman volume inspect` of the host runtime needs it (the docker group is root-equivalent too)' : `SQLite writes its WAL index beside the database it reads (${writable.join(', ')})`
  const service = [
    header('#', d, 'systemd'),
    '#',
    '# Install (as root):',
    `#   install -m 0644 ${unit}.service ${unit}.timer /etc/systemd/system/`,
    `#   install -d -m 0755 /etc/kamal-backup && install -m 0644 <your kamal-backup.yml> ${d.hostConfig}`,
    `#   install -m 0600 ${unit}.env.example ${envFile}   # then fill in the values`,
    ...(asRoot ? [] : [`#   useradd --system --home-dir ${state} --shell /usr/sbin/nologin kamal-backup`]),
    `#   systemctl daemon-reload && systemctl enable --now ${unit}.timer`,
    `# Run one now: systemctl start ${unit}.service; follow it: journalctl -u ${unit}.service -f`,
    '',
    '[Unit]',
    `Description=kamal-backup: back up ${d.app} into its restic repository`,
    'Wants=network-online.target',
    'After=network-online.target',
    ...(d.volumes.length > 0 && !podman ? ['After=docker.service'] : []),
    '',
    '[Service]',
    'Type=oneshot',
    ...(asRoot
      ? [`# Root: ${why}.`, 'User=root']
      : ['User=kamal-backup', 'Group=kamal-backup', '# Reads every backed-up path without owning it; nothing more (restic: "Backing up as a non-root user").', 'AmbientCapabilities=CAP_DAC_READ_SEARCH', 'CapabilityBoundingSet=CAP_DAC_READ_SEARCH']),
    `Environment=KAMAL_BACKUP_CONFIG=${d.hostConfig}`,
    `Environment=KAMAL_BACKUP_STATE_DIR=${state}`,
    `Environment=RESTIC_CACHE_DIR=${state}/cache`,
    `# The secrets the config reads (${d.secrets.join(', ') || 'none'}), one NAME=value per line, mode 0600.`,
    `EnvironmentFile=${envFile}`,
    `ExecStart=${d.bin} backup --on-schedule`,
    `StateDirectory=kamal-backup/${d.slug}`,
    'StateDirectoryMode=0700',
    'TimeoutStartSec=6h',
    'Nice=10',
    'IOSchedulingClass=idle',
    '# Hardening: the whole file system is read-only to the backup except its state directory.',
    'ProtectSystem=strict',
    `ReadWritePaths=${state}`,
    ...(podman ? ['# podman keeps its locks and database here, also for `podman volume inspect`.', 'ReadWritePaths=-/var/lib/containers/storage -/run/libpod -/run/containers'] : []),
    ...(writable.length > 0 ? ['# The directories of the SQLite databases: SQLite writes its WAL index there while reading.', `ReadWritePaths=${writable.join(' ')}`] : []),
    'ProtectHome=read-only',
    'PrivateTmp=true',
    'NoNewPrivileges=true',
    'ProtectKernelTunables=true',
    'ProtectKernelModules=true',
    'ProtectControlGroups=true',
    'RestrictSUIDSGID=true',
    'LockPersonality=true',
    'UMask=0077',
    '',
  ].join('\n')
  const timer = timerUnit(d, 'systemd', unit)
  return [
    {name: `${unit}.service`, content: service},
    {name: `${unit}.timer`, content: timer},
    {name: `${unit}.env.example`, content: environmentTemplate(d, `install -m 0600 ${unit}.env.example ${envFile}`)},
  ]
}

/** The timer that starts `unit`.service at each time of backup.schedule (systemd, and Quadlet's --oneshot). */
export function timerUnit(d: Deployment, runtime: 'systemd' | 'quadlet', unit: string): string {
  return [
    header('#', d, runtime),
    `# backup.schedule is "${d.scheduleText}"; the run itself does not check whether it is due (--on-schedule).`,
    '',
    '[Unit]',
    `Description=kamal-backup: scheduled backups of ${d.app}`,
    '',
    '[Timer]',
    ...d.onCalendar.map((c) => `OnCalendar=${c}`),
    '# A run missed while the host was off starts at boot; several apps on one host do not start in the same second.',
    'Persistent=true',
    'RandomizedDelaySec=5min',
    `Unit=${unit}.service`,
    '',
    '[Install]',
    'WantedBy=timers.target',
    '',
  ].join('\n')
}

/** NAME= lines for every secret, values left empty: a template, never a value. */
export function environmentTemplate(d: Deployment, install: string): string {
  return [
    `# The secrets kamal-backup.yml of ${d.app} reads, as NAME=value lines (no quotes, no export).`,
    `# Copy, then fill in: ${install}`,
    ...d.secrets.map((name) => `${name}=`),
    '',
  ].join('\n')
}
