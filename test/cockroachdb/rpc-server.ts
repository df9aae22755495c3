/**
 * The gRPC `Admin/Drain` of one CockroachDB double node (pkg/server/drain.go `Drain`): a request
 * with `do_drain` marks the node draining and transfers its leases within the call's budget; the
 * one streamed response carries `is_draining` and the work that was left when the call started.
 * A request with neither `do_drain` nor `shutdown` is a probe, as in the real server. The service
 * definition is Baton's own (src/engines/cockroachdb/drain-rpc.ts), so the field numbers are the
 * ones the client sends.
 */
import * as grpc from '@grpc/grpc-js';
import {
  adminDrainService,
  type DrainRequestMessage,
  type DrainResponseMessage,
} from '../../src/engines/cockroachdb/drain-rpc.js';
import type { CockroachDoubleCluster } from './cluster.js';

/** A gRPC server for one node, not yet bound. */
export function createRpcServer(cluster: CockroachDoubleCluster, nodeId: number): grpc.Server {
  const server = new grpc.Server();
  server.addService(adminDrainService(), {
    Drain(call: grpc.ServerWritableStream<DrainRequestMessage, DrainResponseMessage>) {
      const req = call.request;
      if ((req.pre201_marker ?? []).length > 0) {
        call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'client is too old' });
        return;
      }
      const node = cluster.node(nodeId);
      if (!req.do_drain && !req.shutdown) {
        call.write({
          is_draining: node.draining,
          drain_remaining_indicator: '0',
          drain_remaining_description: '',
        });
        call.end();
        return;
      }
      void cluster.drain(nodeId).then(({ remaining, description }) => {
        call.write({
          is_draining: true,
          drain_remaining_indicator: String(remaining),
          drain_remaining_description: description,
        });
        call.end();
      });
    },
  });
  return server;
}
