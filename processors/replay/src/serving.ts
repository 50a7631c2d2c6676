/**
 * What search reads, in one statement (always one row): the serving index generation, its
 * collection, and the model of the embed generation whose vectors it holds. With no serving
 * index row (a store nobody replayed yet), `generation` is null and the model is that of the
 * serving embed generation, if any (search then follows the index alias).
 */
export const servingSearchSql = `SELECT i.generation, i.collection, coalesce(e.model_name, se.model_name) AS model_name
FROM (SELECT 1) AS one
LEFT JOIN generations i ON i.stage = 'index' AND i.serving
LEFT JOIN generations e ON e.stage = 'embed' AND e.generation = i.input_generation
LEFT JOIN generations se ON se.stage = 'embed' AND se.serving`;
