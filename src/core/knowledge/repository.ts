import { sql } from 'kysely';
import type { Db } from '../db/open.js';
import type { DbExecutor } from '../db/types.js';
import type { DocumentChunk } from './types.js';
import type { DocumentSource, KnowledgeChunkRow, KnowledgeDocumentRow, KnowledgeDocumentUpdate, NewKnowledgeDocument } from './table.js';

/** The documents and chunks tables; the FTS index, queue and vectors are SQLite's own (store.ts). */

export async function insertDocument(db: DbExecutor, row: NewKnowledgeDocument): Promise<KnowledgeDocumentRow> {
  return db.insertInto('knowledge_documents').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findDocument(db: DbExecutor, id: number): Promise<KnowledgeDocumentRow | undefined> {
  return db.selectFrom('knowledge_documents').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findDocumentByHash(db: DbExecutor, experienceId: number, contentHash: string): Promise<KnowledgeDocumentRow | undefined> {
  return db.selectFrom('knowledge_documents').selectAll().where('experience_id', '=', experienceId).where('content_hash', '=', contentHash).executeTakeFirst();
}

/** An Experience's documents, newest first, without their text (a list never needs it). */
export async function listDocuments(db: DbExecutor, experienceId: number): Promise<Array<Omit<KnowledgeDocumentRow, 'text' | 'blocks'>>> {
  return db
    .selectFrom('knowledge_documents')
    .select([
      'id', 'experience_id', 'title', 'file_name', 'format', 'mime_type', 'size_bytes', 'page_count', 'pages_without_text', 'notes',
      'source', 'source_url', 'added_by', 'status', 'error', 'chunk_count', 'content_hash', 'created_at', 'indexed_at',
    ])
    .where('experience_id', '=', experienceId)
    .orderBy('id', 'desc')
    .execute();
}

export async function updateDocument(db: DbExecutor, id: number, update: KnowledgeDocumentUpdate): Promise<void> {
  await db.updateTable('knowledge_documents').set(update).where('id', '=', id).execute();
}

/** Marks every "queued" document of one source failed with `error`; returns their ids. */
export async function failQueuedDocuments(db: DbExecutor, source: DocumentSource, error: string): Promise<number[]> {
  const rows = await db
    .updateTable('knowledge_documents')
    .set({ status: 'failed', error })
    .where('status', '=', 'queued')
    .where('source', '=', source)
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}

/** Deletes a document; its chunks go by cascade, and their triggers take FTS, queue and vector rows. */
export async function deleteDocument(db: DbExecutor, id: number): Promise<boolean> {
  const result = await db.deleteFrom('knowledge_documents').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Replaces a document's chunks (the insert trigger indexes and queues each new one). Call inside a transaction. */
export async function replaceChunks(db: DbExecutor, documentId: number, chunks: readonly DocumentChunk[]): Promise<void> {
  await db.deleteFrom('knowledge_chunks').where('document_id', '=', documentId).execute();
  for (const chunk of chunks) {
    await db
      .insertInto('knowledge_chunks')
      .values({
        document_id: documentId, ordinal: chunk.ordinal, text: chunk.text, page_start: chunk.pageStart, page_end: chunk.pageEnd,
        headings: JSON.stringify(chunk.headings), tokens: chunk.tokens,
      })
      .execute();
  }
}

export async function chunksOf(db: Db, documentId: number): Promise<KnowledgeChunkRow[]> {
  return db.selectFrom('knowledge_chunks').selectAll().where('document_id', '=', documentId).orderBy('ordinal').execute();
}

/** Chunks by id with their document's citation fields, limited to one Experience. */
export async function chunksWithDocuments(db: Db, experienceId: number, chunkIds: readonly number[]) {
  if (!chunkIds.length) return [];
  return db
    .selectFrom('knowledge_chunks as c')
    .innerJoin('knowledge_documents as d', 'd.id', 'c.document_id')
    .select(['c.id', 'c.document_id as documentId', 'c.text', 'c.page_start as pageStart', 'c.page_end as pageEnd', 'c.headings', 'c.tokens', 'd.title', 'd.file_name as fileName'])
    // `+` keeps SQLite from starting at the Experience's documents (and reading all their chunks):
    // the chunks are looked up by id, then their document checked
    .where(sql<number>`+${sql.ref('d.experience_id')}`, '=', experienceId)
    .where('c.id', 'in', [...chunkIds])
    .execute();
}
