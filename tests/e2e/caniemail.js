// caniemail's checker (@jsx-email/doiuse-email) over many emails in one node process.
// stdin: JSON {"clients": [...], "emails": {"name": "<html>...", ...}}
// stdout: JSON {"name": {"client": ["feature", ...], ...}, ...}: the features caniemail marks
// unsupported ("n"), per client. Outlook.com ("outlook.outlook-com" in caniemail's data) is not in
// the package's client list, so the clients are set on the checker directly.
const { DoIUseEmail } = require('@jsx-email/doiuse-email');

const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = {};
for (const [name, html] of Object.entries(input.emails)) {
  const perClient = Object.fromEntries(input.clients.map((c) => [c, new Set()]));
  const checker = new DoIUseEmail({ emailClients: ['gmail.*'] });
  checker.emailClients = input.clients;
  // Each error reads "`feature` is not supported by `client`".
  for (const error of checker.check(html).errors || []) {
    const [, feature, , client] = error.split('`');
    perClient[client].add(feature);
  }
  out[name] = Object.fromEntries(Object.entries(perClient).map(([c, s]) => [c, [...s]]));
}
process.stdout.write(JSON.stringify(out));
