// One receive run in a process of its own, for bench/native.bench.mjs:
//   node bench/recv-child.mjs <driver> <url> <count> <text: 0|1> <size> <warm-up url> <warm-up count>
// Runs the driver once on the warm-up url (untimed: the code is compiled and the allocator has
// seen the sizes), then on `url`, and prints the timed run's ms on stdout. A fresh process per
// run keeps one driver's garbage and C heap from changing another's page faults: with 1 MiB
// messages the allocator's state decides a good part of the time.
import { recvDrivers } from './recv-drivers.mjs';

const [driver, url, count, text, size, warmUrl, warmCount] = process.argv.slice(2);
const recv = recvDrivers[driver];
if (!recv) {
  process.stderr.write(`recv-child: no driver ${driver}\n`);
  process.exit(2);
}
await recv(warmUrl, Number(warmCount), text === '1', Number(size));
const ms = await recv(url, Number(count), text === '1', Number(size));
process.stdout.write(String(ms));
process.exit(0);
