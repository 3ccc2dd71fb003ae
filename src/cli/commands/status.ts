// `spear-mesh status`: the spearlets Consul knows, with health from Consul and sessions and load from each admin API.
import { createConsulClient } from '../../registry/consul-client.ts';
import { resolveConsulOptions } from '../../registry/consul-options.ts';
import { collectStatus, formatStatusTable } from '../mesh-status.ts';
import { parseCommandArgs } from '../options.ts';
import { resolveAdminToken } from '../../admin/admin-client.ts';

const HELP = `Usage: spear-mesh status [options]

Shows every spearlet registered in Consul: its health (worst check), readiness, sessions and in-flight
requests from its admin API.

Options:
  --consul URL     Consul HTTP address (env CONSUL_HTTP_ADDR; default http://127.0.0.1:8500)
  --service NAME   Consul service name of spearlets (default spearlet)
  --admin-token-file FILE  admin API token for the spearlets' /v1/sessions (env SPEAR_ADMIN_TOKEN: the token)
  --json           print a JSON object {consul, service, spearlets: [...]} instead of a table
  -h, --help       show this help

JSON fields per spearlet: id, serviceId, address, port, zone, version, health (passing|warning|critical|
maintenance), checks [{id, status, output}], admin (URL or null), sessions, inFlight, ready (null when the
admin API did not answer), note (why those are null, e.g. an admin API bound to loopback on another host; the
table prints it below the rows).

Exit status: 0 on success, 1 when Consul cannot be reached or an admin API refuses the token, 2 on bad options.
`;

export async function run(argv: readonly string[]): Promise<number> {
  const values = parseCommandArgs(
    argv,
    {
      consul: { type: 'string' },
      service: { type: 'string', default: 'spearlet' },
      json: { type: 'boolean', default: false },
      'admin-token-file': { type: 'string' },
    },
    HELP,
  );
  if (values === null) return 0;
  const options = resolveConsulOptions(values.consul !== undefined ? { addr: values.consul } : {});
  const adminToken = resolveAdminToken(values['admin-token-file']);
  const consul = createConsulClient(options);
  try {
    const spearlets = await collectStatus(consul, values.service, adminToken !== undefined ? { adminToken } : {});
    if (values.json) {
      process.stdout.write(
        JSON.stringify({ consul: options.addr, service: values.service, spearlets }, null, 2) + '\n',
      );
    } else if (spearlets.length === 0) {
      process.stdout.write(`no ${values.service} instances registered in Consul at ${options.addr}\n`);
    } else {
      process.stdout.write(formatStatusTable(spearlets));
    }
    return 0;
  } catch (err) {
    process.stderr.write(`spear-mesh status: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    consul.close();
  }
}
