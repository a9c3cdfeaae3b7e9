// `GET /v1/snapshot`: a consistent backup of the replicated state (chime backup FILE), for
// `chime agent --restore FILE` to start a new cluster from.
import type { BackupService } from './services.js';
import type { Route } from './server.js';

export function backupRoutes(backups: BackupService): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/snapshot',
      permission: 'snapshot.read',
      write: false,
      handle: async ({ res }) => {
        const bytes = await backups.backup();
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length), 'content-disposition': 'attachment; filename="chime.backup"' });
        res.end(bytes);
      },
    },
  ];
}
