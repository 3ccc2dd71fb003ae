// PUT /v1/catalog/register and /v1/catalog/deregister on the registry's one node: direct catalog writes, as
// Consul's Catalog.Register / Catalog.Deregister apply them (services, checks, `true` on success, 500 on errors).
import { decodeRequest, readMeta, type RegistryState } from './context.ts';
import { str, strMap, strs, sub, subs, type Decoded, type Schema } from './decode.ts';
import { serverError } from './http-error.ts';
import { json, type Endpoint, type RequestCtx } from './http.ts';
import { sortKeys, validateMeta } from './local-checks.ts';
import { isHealthStatus, type CheckRec, type ServiceRec, type Unindexed } from './types.ts';

const CATALOG_SERVICE: Schema = {
  goName: 'structs.NodeService',
  fields: {
    Kind: { type: 'string' },
    ID: { type: 'string' },
    Service: { type: 'string' },
    Tags: { type: 'strings' },
    Address: { type: 'string' },
    TaggedAddresses: { type: 'raw' },
    Meta: { type: 'stringMap' },
    Port: { type: 'int' },
    Weights: { type: 'raw' },
    EnableTagOverride: { type: 'bool' },
    Proxy: { type: 'raw' },
    Connect: { type: 'raw' },
  },
};

const HEALTH_CHECK: Schema = {
  goName: 'structs.HealthCheck',
  fields: {
    Node: { type: 'string' },
    CheckID: { type: 'string' },
    Name: { type: 'string' },
    Status: { type: 'string' },
    Notes: { type: 'string' },
    Output: { type: 'string' },
    ServiceID: { type: 'string' },
    ServiceName: { type: 'string' },
    ServiceTags: { type: 'strings' },
    Type: { type: 'string' },
    Definition: { type: 'raw' },
  },
};

const REGISTER: Schema = {
  goName: 'structs.RegisterRequest',
  fields: {
    Datacenter: { type: 'string' },
    ID: { type: 'string' },
    Node: { type: 'string' },
    Address: { type: 'string' },
    TaggedAddresses: { type: 'stringMap' },
    NodeMeta: { type: 'stringMap' },
    Service: { type: { struct: CATALOG_SERVICE } },
    Check: { type: { struct: HEALTH_CHECK } },
    Checks: { type: { array: { struct: HEALTH_CHECK } } },
    SkipNodeUpdate: { type: 'bool' },
  },
};

const DEREGISTER: Schema = {
  goName: 'structs.DeregisterRequest',
  fields: {
    Datacenter: { type: 'string' },
    Node: { type: 'string' },
    ServiceID: { type: 'string' },
    CheckID: { type: 'string' },
  },
};

export function catalogWriteRoutes(state: RegistryState): Endpoint[] {
  const { catalog } = state;
  const ownNode = (d: Decoded): void => {
    const node = str(d, 'Node');
    if (node === '') throw serverError('Must provide node');
    if (node !== state.nodeName) {
      throw serverError(`dev registry: only node ${JSON.stringify(state.nodeName)} exists (single-node catalog)`);
    }
  };

  const register = (ctx: RequestCtx) => {
    const d = decodeRequest(ctx, REGISTER);
    readMeta(state, ctx);
    ownNode(d);
    if (str(d, 'Address') === '' && d.SkipNodeUpdate !== true)
      throw serverError('Must provide address if SkipNodeUpdate is not set');
    const s = sub(d, 'Service');
    let svc: Unindexed<ServiceRec> | undefined;
    if (s !== undefined) {
      const name = str(s, 'Service');
      const id = str(s, 'ID') === '' ? name : str(s, 'ID');
      if (id === '') throw serverError('Must provide service name (Service.Service) or ID (Service.ID)');
      if (name === '') throw serverError('Must provide service name (Service.Service)');
      const meta = strMap(s, 'Meta') ?? {};
      validateMeta(meta);
      const weights = sub(s, 'Weights');
      svc = {
        Kind: str(s, 'Kind'),
        ID: id,
        Service: name,
        Tags: strs(s, 'Tags') ?? [],
        Address: str(s, 'Address'),
        TaggedAddresses: (sub(s, 'TaggedAddresses') ?? {}) as ServiceRec['TaggedAddresses'],
        Meta: sortKeys(meta),
        Port: typeof s.Port === 'number' ? s.Port : 0,
        Weights:
          weights === undefined
            ? { Passing: 1, Warning: 1 }
            : { Passing: Number(weights.Passing ?? 1), Warning: Number(weights.Warning ?? 1) },
        EnableTagOverride: s.EnableTagOverride === true,
        Proxy: s.Proxy ?? { Mode: '', MeshGateway: {}, Expose: {} },
        Connect: s.Connect ?? {},
      };
    }
    const checkDefs = [
      ...(sub(d, 'Check') === undefined ? [] : [sub(d, 'Check') as Decoded]),
      ...(subs(d, 'Checks') ?? []),
    ];
    const checks: Unindexed<CheckRec>[] = checkDefs.map((c) => {
      const cid = str(c, 'CheckID') === '' ? str(c, 'Name') : str(c, 'CheckID');
      if (cid === '') throw serverError('Missing check ID');
      const node = str(c, 'Node');
      if (node !== '' && node !== state.nodeName)
        throw serverError(`Check node ${JSON.stringify(node)} does not match`);
      const status = str(c, 'Status');
      if (status !== '' && !isHealthStatus(status)) throw serverError(`Invalid check status ${JSON.stringify(status)}`);
      const serviceId = str(c, 'ServiceID');
      const owner = serviceId === '' ? undefined : serviceId === svc?.ID ? svc : catalog.service(serviceId);
      if (serviceId !== '' && owner === undefined) {
        throw serverError(`Unknown service ID ${JSON.stringify(serviceId)} for check ID ${JSON.stringify(cid)}`);
      }
      return {
        Node: state.nodeName,
        CheckID: cid,
        Name: str(c, 'Name'),
        Status: status !== '' && isHealthStatus(status) ? status : 'critical',
        Notes: str(c, 'Notes'),
        Output: str(c, 'Output'),
        ServiceID: serviceId,
        ServiceName: owner?.Service ?? '',
        ServiceTags: owner?.Tags ?? [],
        Type: str(c, 'Type'),
        Interval: '',
        Timeout: '',
        ExposedPort: 0,
        Definition: sub(c, 'Definition') ?? {},
      };
    });
    // Validated in full before the first write, so a bad check leaves the catalog as it was.
    if (svc !== undefined) catalog.ensureService(svc);
    for (const c of checks) catalog.ensureCheck(c);
    return json(true);
  };

  const deregister = (ctx: RequestCtx) => {
    const d = decodeRequest(ctx, DEREGISTER);
    readMeta(state, ctx);
    ownNode(d);
    const serviceId = str(d, 'ServiceID');
    const checkId = str(d, 'CheckID');
    if (serviceId !== '') catalog.deleteService(serviceId);
    if (checkId !== '') catalog.deleteCheck(checkId);
    if (serviceId === '' && checkId === '') {
      throw serverError('dev registry: the node itself cannot be deregistered (single-node catalog)');
    }
    return json(true);
  };

  return [
    { pattern: '/v1/catalog/register', methods: ['PUT'], handler: register },
    { pattern: '/v1/catalog/deregister', methods: ['PUT'], handler: deregister },
  ];
}
