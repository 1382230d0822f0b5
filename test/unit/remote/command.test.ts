import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {accessoryArgv, dockerExecArgv, remoteCommandLine} from '../../../src/remote/command.js'

test('workstation-only flags are removed in every spelling; everything else is kept in order', () => {
  assert.deepEqual(
    accessoryArgv(['-d', 'production', 'latest', '--json', '-c', 'config/other.yml', '--backup-config=x.yml', '--host', 'db1', '--strict-host-key', '--local', '--at', '2026-01-01T00:00:00Z']),
    ['latest', '--json', '--at', '2026-01-01T00:00:00Z'],
  )
  assert.deepEqual(accessoryArgv(['-dproduction', '--destination=staging', '--config-file', 'a', '--host=h', '-c=x', '--yes']), ['--yes'])
  assert.deepEqual(accessoryArgv(['--check', '-d', 'x']), ['--check'], '-d is a workstation flag wherever it appears')
  assert.deepEqual(accessoryArgv(['--check=-d', '--files', '--destination-like']), ['--check=-d', '--files', '--destination-like'])
  assert.deepEqual(accessoryArgv(['latest', '--', '-d', '--local']), ['latest', '--', '-d', '--local'], 'after -- everything is an argument')
  assert.deepEqual(accessoryArgv([]), [])
})

test('the docker exec argv carries the client version and the operator as -e, never anything secret', () => {
  assert.deepEqual(dockerExecArgv({container: 'app-backup', command: ['drill', 'production'], argv: ['--yes'], clientVersion: '0.1.0', operator: 'alice'}), [
    'docker', 'exec', '-i', '-e', 'KAMAL_BACKUP_REMOTE_CLIENT=0.1.0', '-e', 'KAMAL_BACKUP_OPERATOR=alice', 'app-backup', 'kamal-backup', 'drill', 'production', '--yes',
  ])
  assert.deepEqual(dockerExecArgv({container: 'c', command: ['list'], argv: [], clientVersion: '1.2.3'}), ['docker', 'exec', '-i', '-e', 'KAMAL_BACKUP_REMOTE_CLIENT=1.2.3', 'c', 'kamal-backup', 'list'])
})

test('the workstation\'s -d and -c, and finish-on-hangup, travel as -e variables (for the undo command the accessory prints)', () => {
  assert.deepEqual(dockerExecArgv({container: 'c', command: ['restore', 'production'], argv: ['--confirm', 'app'], clientVersion: '0.1.0', destination: 'production', configFile: 'config/deploy.other.yml', continueOnHangup: true}), [
    'docker', 'exec', '-i', '-e', 'KAMAL_BACKUP_REMOTE_CLIENT=0.1.0', '-e', 'KAMAL_BACKUP_DESTINATION=production', '-e', 'KAMAL_BACKUP_CONFIG_FILE=config/deploy.other.yml', '-e', 'KAMAL_BACKUP_REMOTE_ON_HANGUP=continue',
    'c', 'kamal-backup', 'restore', 'production', '--confirm', 'app',
  ])
})

test('the remote command line reads back, through a real POSIX shell, as exactly the argv', () => {
  const nasty = ["it's", '"double"', '$(id)', '`id`', 'a\nb', 'ünï ✓ 日本', '', ' ', '*', '~', '\\', "'", ';|&<>', '-e', '$HOME', '!event']
  const line = remoteCommandLine({container: 'app backup', command: ['list'], argv: nasty, clientVersion: '0.1.0', operator: "O'Brien $USER"})
  // Replace `docker` with a printer of its arguments, one NUL-terminated word each, and let sh parse the line.
  const out = execFileSync('sh', ['-c', `docker() { printf '%s\\0' "$@"; }; ${line}`], {encoding: 'utf8'})
  const words = out.split('\0').slice(0, -1)
  assert.deepEqual(words, ['exec', '-i', '-e', 'KAMAL_BACKUP_REMOTE_CLIENT=0.1.0', '-e', "KAMAL_BACKUP_OPERATOR=O'Brien $USER", 'app backup', 'kamal-backup', 'list', ...nasty])
})
