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

onlineStoreContract('redis cluster', async () => {
  const cluster = await startRedisCluster(3);
  return {
    open: () => RedisOnlineStore.create({ clusterNodes: cluster.seeds.split(','), project: 'contract' }),
    teardown: () => cluster.stop(),
  };
});
