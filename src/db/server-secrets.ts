import type { Db } from './database.js';

/**
 * A secret every instance shares (they share the database): the first instance to ask creates
 * it, every later one reads the same value.
 */
export async function sharedSecret(db: Db, name: string, generate: () => string): Promise<string> {
  await db.insertInto('server_secrets').values({ name, value: generate() }).onConflict((c) => c.column('name').doNothing()).execute();
  const row = await db.selectFrom('server_secrets').select('value').where('name', '=', name).executeTakeFirstOrThrow();
  return row.value;
}
