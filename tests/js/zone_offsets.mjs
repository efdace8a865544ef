// Read VTIMEZONEs with ical.js (the parser Thunderbird uses) and report the UTC offsets it
// gives, for tests/test_ical_vtimezone.py. One process for many zones.
//
// stdin: JSON {"ics": "<VCALENDAR holding VTIMEZONEs>",
//              "instants": [[tzid, unix_seconds], ...],
//              "walls": [[tzid, year, month, day, hour, minute, second], ...]}
// stdout: JSON {"instants": [offset_seconds, ...], "walls": [unix_seconds, ...]}
//   instants: the offset of the local time ical.js converts each instant to
//             (ICAL.Time.fromUnixTime, then convertToZone, as Thunderbird shows a UTC time);
//   walls: the instant ical.js gives each local wall time in the zone (as it reads
//          DTSTART;TZID=...).
// The VCALENDAR may hold several VTIMEZONEs with the same TZID (one per year range): the
// n-th VTIMEZONE is registered as "<n>" and the checks name it by that number.
// Exits 1 (message on stderr) if parsing fails.
import ICAL from "ical.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const request = JSON.parse(Buffer.concat(chunks).toString("utf8"));

try {
  const root = new ICAL.Component(ICAL.parse(request.ics));
  const zones = root.getAllSubcomponents("vtimezone").map(
    (component, index) => new ICAL.Timezone({ component, tzid: String(index) }),
  );
  zones.forEach((zone, index) => ICAL.TimezoneService.register(zone, String(index)));
  const zone = (name) => {
    const found = ICAL.TimezoneService.get(String(name));
    if (!found) throw new Error(`no VTIMEZONE number ${name}`);
    return found;
  };
  const instants = request.instants.map(([name, seconds]) => {
    const utc = new ICAL.Time();
    utc.fromUnixTime(seconds);
    const local = utc.convertToZone(zone(name));
    const wall = Date.UTC(
      local.year, local.month - 1, local.day, local.hour, local.minute, local.second,
    ) / 1000;
    return wall - seconds;
  });
  const walls = request.walls.map(([name, year, month, day, hour, minute, second]) => {
    const time = new ICAL.Time({ year, month, day, hour, minute, second, isDate: false }, zone(name));
    return time.toUnixTime();
  });
  process.stdout.write(JSON.stringify({ instants, walls }));
} catch (error) {
  process.stderr.write(`ical.js could not read the zones: ${error}\n${error.stack}\n`);
  process.exit(1);
}
