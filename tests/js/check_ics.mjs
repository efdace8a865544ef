// Parse an iCalendar document from stdin with ical.js (the parser Thunderbird uses) and
// print a JSON list of its VEVENTs: uid, summary, description, location, status,
// sequence, and start/end as UTC ISO strings (date-times) or YYYY-MM-DD (all-day dates).
// A TZID without its VTIMEZONE makes ical.js read the time as floating: reported as
// "floating" so that the tests catch it. Exits 1 (message on stderr) if parsing fails.
import ICAL from "ical.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const text = Buffer.concat(chunks).toString("utf8");

function moment(time) {
  if (time === null) return null;
  if (time.isDate) return { date: time.toString().slice(0, 10) };
  if (time.zone === ICAL.Timezone.localTimezone) return { floating: time.toString() };
  return { utc: time.toUnixTime() * 1000 };
}

try {
  const root = new ICAL.Component(ICAL.parse(text));
  for (const vtimezone of root.getAllSubcomponents("vtimezone")) {
    ICAL.TimezoneService.register(vtimezone);
  }
  const events = root.getAllSubcomponents("vevent").map((vevent) => {
    const event = new ICAL.Event(vevent);
    const start = moment(event.startDate);
    const end = moment(event.endDate);
    for (const m of [start, end]) {
      if (m && m.utc !== undefined) m.utc = new Date(m.utc).toISOString();
    }
    return {
      uid: event.uid,
      summary: event.summary,
      description: vevent.getFirstPropertyValue("description"),
      location: event.location,
      status: vevent.getFirstPropertyValue("status"),
      sequence: event.sequence,
      start,
      end,
      related: vevent.getFirstPropertyValue("related-to"),
      alarms: vevent.getAllSubcomponents("valarm").length,
    };
  });
  process.stdout.write(JSON.stringify({
    calendar_name: root.getFirstPropertyValue("x-wr-calname"),
    events,
  }));
} catch (error) {
  process.stderr.write(`ical.js could not parse the feed: ${error}\n`);
  process.exit(1);
}
