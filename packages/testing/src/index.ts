export { startRedis, freePort, type RedisServer, type StartRedisOptions } from './redis-server.ts';
