// Kubernetes: a CronJob that runs one backup at each time of backup.schedule (`backup --on-schedule`), never two at
// once (Forbid), with a deadline for a start missed while the controller was down, and a bounded number of retries.
// Volume entries are PersistentVolumeClaims of that name mounted read-only at /volumes/<name> (a ReadWriteOnce
// claim can only be mounted on the node that holds it: see the comment), host directories are hostPaths at the
// same path. The config is a ConfigMap, state a claim of its own, credentials a Secret the CronJob refers to; the
// Secret is written as a template with empty values, in a file of its own.
import {stringify} from 'yaml'
// Types only (erased from the build): the official objects' shapes, so an unknown or misspelt field is a type error.
import type {ICronJob} from 'kubernetes-models/batch/v1/CronJob'
import type {IConfigMap} from 'kubernetes-models/v1/ConfigMap'
import type {IPersistentVolumeClaim} from 'kubernetes-models/v1/PersistentVolumeClaim'
import type {ISecret} from 'kubernetes-models/v1/Secret'
import {ACCESSORY_CONFIG_PATH} from '../config/types.js'
import {header, type Deployment, type GeneratedFile} from './deployment.js'

export function generateKubernetes(d: Deployment): GeneratedFile[] {
  const name = `${d.slug}-kamal-backup`
  const labels = {'app.kubernetes.io/name': 'kamal-backup', 'app.kubernetes.io/instance': d.slug}
  const volumeName = (v: string) => `vol-${v.toLowerCase().replace(/[^a-z0-9-]+/g, '-')}`.slice(0, 63).replace(/-+$/, '')
  const dirName = (index: number) => `host-dir-${index}`
  const configMap: IConfigMap = {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: `${name}-config`, labels}, data: {'kamal-backup.yml': d.configText}}
  const stateClaim: IPersistentVolumeClaim = {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {name: `${name}-state`, labels},
    spec: {accessModes: ['ReadWriteOnce'], resources: {requests: {storage: '1Gi'}}},
  }
  const cronJob: ICronJob = {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: {name, labels},
    spec: {
      schedule: d.cron,
      timeZone: 'Etc/UTC',
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 3600,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 5,
      jobTemplate: {
        metadata: {labels},
        spec: {
          backoffLimit: 2,
          activeDeadlineSeconds: 21600,
          template: {
            metadata: {labels},
            spec: {
              restartPolicy: 'Never',
              containers: [
                {
                  name: 'backup',
                  image: d.image,
                  command: ['kamal-backup', 'backup', '--on-schedule'],
                  envFrom: [{secretRef: {name: `${name}-secrets`}}],
                  // Reads every file; writes only where a SQLite database is (its WAL index), which needs DAC_OVERRIDE.
                  securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: ['ALL'], add: ['DAC_READ_SEARCH', ...(d.directories.some((x) => x.writable) ? ['DAC_OVERRIDE'] : [])]}},
                  volumeMounts: [
                    {name: 'config', mountPath: ACCESSORY_CONFIG_PATH, subPath: 'kamal-backup.yml', readOnly: true},
                    {name: 'state', mountPath: d.containerStateDir},
                    ...d.volumes.map((v) => ({name: volumeName(v.name), mountPath: v.mountedAt, readOnly: !v.writable})),
                    ...d.directories.map((dir, index) => ({name: dirName(index), mountPath: dir.path, readOnly: !dir.writable})),
                    ...d.files.map((file, index) => ({name: `host-file-${index}`, mountPath: file, readOnly: true})),
                  ],
                },
              ],
              volumes: [
                {name: 'config', configMap: {name: `${name}-config`}},
                {name: 'state', persistentVolumeClaim: {claimName: `${name}-state`}},
                ...d.volumes.map((v) => ({name: volumeName(v.name), persistentVolumeClaim: {claimName: v.name, readOnly: !v.writable}})),
                ...d.directories.map((dir, index) => ({name: dirName(index), hostPath: {path: dir.path, type: 'Directory' as const}})),
                ...d.files.map((file, index) => ({name: `host-file-${index}`, hostPath: {path: file, type: 'File' as const}})),
              ],
            },
          },
        },
      },
    },
  }
  const secret: ISecret = {apiVersion: 'v1', kind: 'Secret', metadata: {name: `${name}-secrets`, labels}, type: 'Opaque', stringData: Object.fromEntries(d.secrets.map((s) => [s, '']))}
  const yaml = (doc: unknown) => stringify(doc, {lineWidth: 0}).trimEnd()
  const main = [
    header('#', d, 'kubernetes'),
    '#',
    `# Apply: kubectl apply -f ${name}.yaml (after the Secret, ${name}-secret.yaml). Run one now:`,
    `#   kubectl create job --from=cronjob/${name} ${name}-manual`,
    ...(d.volumes.length > 0 ? ['# The claims are the app\'s own: a ReadWriteOnce claim mounts only on the node that holds it, so this pod must', '# run there (add a nodeSelector or pod affinity to the app); ReadWriteMany or ReadOnlyMany claims need nothing.'] : []),
    ...(d.directories.length > 0 ? ['# hostPath directories are read on the node the pod runs on: pin it with a nodeSelector.'] : []),
    '---',
    yaml(configMap),
    '---',
    yaml(stateClaim),
    '---',
    yaml(cronJob),
    '',
  ].join('\n')
  const secretFile = [
    header('#', d, 'kubernetes'),
    `# A template: fill in each value (or create it with kubectl create secret generic ${name}-secrets --from-literal=NAME=...),`,
    '# and keep the filled-in copy out of version control.',
    '---',
    yaml(secret),
    '',
  ].join('\n')
  return [
    {name: `${name}.yaml`, content: main},
    {name: `${name}-secret.yaml`, content: secretFile},
  ]
}
