/**
 * The gRPC half of the CockroachDB admin client: `cockroach.server.serverpb.Admin/Drain`, the call
 * `cockroach node drain` makes (pkg/cli/rpc_node_shutdown.go). The server does not expose it over
 * HTTP ("We do not expose this via HTTP unless we have a way to authenticate + authorize streaming
 * RPC connections", pkg/server/serverpb/admin.proto), so Baton speaks gRPC to the node's RPC
 * address (the SQL port: CockroachDB multiplexes gRPC and pgwire on 26257).
 *
 * The messages below are the subset of admin.proto's DrainRequest / DrainResponse Baton uses, with
 * their real field numbers: a request with `do_drain` pushes SQL clients and range leases off the
 * node; the streamed response's `drain_remaining_indicator` says how much was left when the call
 * started, and "the client should issue requests until this indicator first reaches zero".
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { OperationalError, describeError } from '../../core/errors.js';

const ADMIN_DRAIN = {
  nested: {
    cockroach: {
      nested: {
        server: {
          nested: {
            serverpb: {
              nested: {
                DrainRequest: {
                  fields: {
                    pre201_marker: { rule: 'repeated', type: 'int32', id: 1 },
                    shutdown: { type: 'bool', id: 3 },
                    do_drain: { type: 'bool', id: 4 },
                  },
                },
                DrainResponse: {
                  fields: {
                    is_draining: { type: 'bool', id: 2 },
                    drain_remaining_indicator: { type: 'uint64', id: 3 },
                    drain_remaining_description: { type: 'string', id: 4 },
                  },
                },
                Admin: {
                  methods: {
                    Drain: {
                      requestType: 'DrainRequest',
                      responseType: 'DrainResponse',
                      responseStream: true,
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

/** Wire shape of DrainRequest (proto field names kept). */
export interface DrainRequestMessage {
  pre201_marker?: number[];
  shutdown?: boolean;
  do_drain?: boolean;
}

/** Wire shape of DrainResponse; the uint64 arrives as a decimal string. */
export interface DrainResponseMessage {
  is_draining: boolean;
  drain_remaining_indicator: string;
  drain_remaining_description: string;
}

/** The loaded `Admin` service definition, shared by the client and the test double's server. */
export function adminDrainService(): grpc.ServiceDefinition {
  const def = protoLoader.fromJSON(ADMIN_DRAIN as Parameters<typeof protoLoader.fromJSON>[0], {
    keepCase: true,
    longs: String,
    defaults: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    cockroach: { server: { serverpb: { Admin: grpc.ServiceClientConstructor } } };
  };
  return pkg.cockroach.server.serverpb.Admin.service;
}

/** What one Drain call reported. */
export interface DrainProgress {
  draining: boolean;
  /** Work left when the call started (0: fully drained). */
  remaining: number;
  description: string;
}

type AdminClient = grpc.Client & {
  Drain(req: DrainRequestMessage, opts: grpc.CallOptions): grpc.ClientReadableStream<DrainResponseMessage>;
};

/** gRPC Drain calls against one node at a time. */
export class CockroachDrainRpc {
  private readonly clients = new Map<string, AdminClient>();
  private readonly ctor: grpc.ServiceClientConstructor;

  constructor(
    private readonly credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
    private readonly timeoutMs = 30_000,
  ) {
    this.ctor = grpc.makeGenericClientConstructor(adminDrainService(), 'Admin');
  }

  private client(address: string): AdminClient {
    let c = this.clients.get(address);
    if (!c) {
      c = new this.ctor(address, this.credentials) as unknown as AdminClient;
      this.clients.set(address, c);
    }
    return c;
  }

  /**
   * One `Drain` call with `do_drain` (never `shutdown`: the platform stops the process). Resolves
   * with the last response of the stream once the server ends it.
   */
  drain(address: string): Promise<DrainProgress> {
    return new Promise((resolve, reject) => {
      let last: DrainResponseMessage | undefined;
      const call = this.client(address).Drain(
        { pre201_marker: [], do_drain: true, shutdown: false },
        { deadline: Date.now() + this.timeoutMs },
      );
      call.on('data', (msg: DrainResponseMessage) => {
        last = msg;
      });
      call.on('error', (err: Error) =>
        reject(
          new OperationalError(
            'cockroachdb-drain',
            `drain of the CockroachDB node at ${address} failed: ${describeError(err)}`,
          ),
        ),
      );
      call.on('end', () => {
        if (!last) {
          reject(
            new OperationalError(
              'cockroachdb-drain',
              `the CockroachDB node at ${address} answered the drain with nothing`,
            ),
          );
          return;
        }
        resolve({
          draining: last.is_draining,
          remaining: Number(last.drain_remaining_indicator),
          description: last.drain_remaining_description,
        });
      });
    });
  }

  /** Close every channel. */
  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
