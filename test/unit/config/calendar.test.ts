// backup.schedule as other schedulers write it (pure; the integration tests run systemd-analyze on the result).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {appMinute, onCalendar, scheduleAsCron} from '../../../src/config/calendar.js'
import {parseSchedule} from '../../../src/config/schedule.js'
import {pathInSnapshot} from '../../../src/engine/volumes.js'

test('an interval becomes the cron that fires as often, at the app\'s own minute; a cron stays as written', () => {
  const m = appMinute('shop')
  assert.equal(appMinute('shop'), m, 'stable')
  assert.notEqual(appMinute('shop'), appMinute('blog'), 'two apps, two minutes (for these names)')
  assert.equal(scheduleAsCron(parseSchedule('15m'), 'shop'), '*/15 * * * *')
  assert.equal(scheduleAsCron(parseSchedule('1h'), 'shop'), `${m} * * * *`)
  assert.equal(scheduleAsCron(parseSchedule('6h'), 'shop'), `${m} */6 * * *`)
  assert.equal(scheduleAsCron(parseSchedule('1d'), 'shop'), `${m} 3 * * *`)
  assert.equal(scheduleAsCron(parseSchedule('1w'), 'shop'), `${m} 3 * * 0`)
  assert.equal(scheduleAsCron(parseSchedule('@daily'), 'shop'), '0 0 * * *')
  assert.equal(scheduleAsCron(parseSchedule('30  2 * * 1-5'), 'shop'), '30 2 * * 1-5')
  for (const bad of ['90m', '5h', '2d', '7m']) assert.throws(() => scheduleAsCron(parseSchedule(bad), 'shop'), /a calendar cannot keep/, bad)
})

test('OnCalendar: lists as systemd writes them; cron\'s either-day rule is two lines', () => {
  assert.deepEqual(onCalendar(parseSchedule('15 2 * * 1-5'), 'x'), ['Mon,Tue,Wed,Thu,Fri *-*-* 02:15:00 UTC'])
  assert.deepEqual(onCalendar(parseSchedule('0 3 1,15 * 1'), 'x'), ['*-*-01,15 03:00:00 UTC', 'Mon *-*-* 03:00:00 UTC'])
  assert.deepEqual(onCalendar(parseSchedule('*/20 9-10 * 1,6 *'), 'x'), ['*-01,06-* 09,10:00,20,40:00 UTC'])
})

test('a volume\'s files are where its snapshot\'s tag says; a plain path is itself', () => {
  const tags = ['kamal-backup', 'type:files', 'path:volume-shop_storage', 'volume:shop_storage:/var/lib/docker/volumes/shop_storage/_data', 'volume:shop:/old/root/volumes/shop/_data']
  assert.equal(pathInSnapshot('volume:shop_storage', tags), '/var/lib/docker/volumes/shop_storage/_data')
  assert.equal(pathInSnapshot('volume:shop', tags), '/old/root/volumes/shop/_data', 'a name that prefixes another is not confused with it')
  assert.equal(pathInSnapshot('/srv/uploads', tags), '/srv/uploads')
  assert.throws(() => pathInSnapshot('volume:other', tags), /no record of where volume other was/)
})
