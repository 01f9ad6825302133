/** The online store contract against a real redis-server and a real 3-master Redis Cluster. */
import { onlineStoreContract } from './contract.ts';
import { startRedis, startRedisCluster } from '../support/redis-server.ts';
import { RedisOnlineStore } from '../../src/online/redis/redis-store.ts';

onlineStoreContract('redis standalone', async () => {
  const server = await startRedis();
  return {
    open: () => RedisOnlineStore.create({ url: server.url, project: 'contract' }),
    teardown: () => server.stop(),
  };
});

// The whole contract over a Unix socket (unix://, with a db): reads over pitstop's own read
// connection, writes through ioredis, both on the socket.
onlineStoreContract('redis standalone, unix socket', async () => {
  const server = await startRedis({ unixSocket: true });
  return {
    open: () => RedisOnlineStore.create({ url: `unix://${server.socketPath}?db=1`, project: 'contract' }),
    teardown: () => server.stop(),
  };
});

onlineStoreContract('redis cluster', async () => {
  const cluster = await startRedisCluster(3);
  return {
    open: () => RedisOnlineStore.create({ clusterNodes: cluster.seeds.split(','), project: 'contract' }),
    teardown: () => cluster.stop(),
  };
});

// The whole contract again with a near cache: every read after a write of this process sees it.
onlineStoreContract('redis standalone, near cache', async () => {
  const server = await startRedis();
  return {
    open: () => RedisOnlineStore.create({ url: server.url, project: 'contract', nearCacheBytes: 1 << 20 }),
    teardown: () => server.stop(),
  };
});

onlineStoreContract('redis standalone, unix socket, near cache', async () => {
  const server = await startRedis({ unixSocket: true });
  return {
    open: () => RedisOnlineStore.create({ url: `unix://${server.socketPath}`, project: 'contract', nearCacheBytes: 1 << 20 }),
    teardown: () => server.stop(),
  };
});

onlineStoreContract('redis cluster, near cache', async () => {
  const cluster = await startRedisCluster(3);
  return {
    open: () => RedisOnlineStore.create({ clusterNodes: cluster.seeds.split(','), project: 'contract', nearCacheBytes: 1 << 20 }),
    teardown: () => cluster.stop(),
  };
});
