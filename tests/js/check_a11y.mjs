// Run axe-core (the accessibility engine of browsers' audits) on an HTML page read from
// stdin, in jsdom, and print its violations as JSON: [{id, impact, help, nodes}].
// jsdom lays nothing out, so axe's colour-contrast rule cannot run here: the tests check
// the pages' palette against WCAG's ratio themselves. Exits 1 if axe cannot run.
import { JSDOM } from "jsdom";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const html = Buffer.concat(chunks).toString("utf8");

try {
  const dom = new JSDOM(html, { runScripts: "outside-only", pretendToBeVisual: true });
  dom.window.eval(axeSource);
  const results = await dom.window.axe.run(dom.window.document, {
    rules: { "color-contrast": { enabled: false } },
    resultTypes: ["violations"],
  });
  process.stdout.write(JSON.stringify({
    passes: results.passes.map((rule) => rule.id),
    violations: results.violations.map((rule) => ({
      id: rule.id,
      impact: rule.impact,
      help: rule.help,
      nodes: rule.nodes.map((node) => node.html),
    })),
  }));
} catch (error) {
  process.stderr.write(`axe-core could not run: ${error}\n`);
  process.exit(1);
}
