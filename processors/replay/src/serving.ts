/**
 * What search reads, in one statement: the serving index generation, its collection, and the
 * model of the embed generation whose vectors it holds (null row: nothing was ever replayed).
 */
export const servingSearchSql = `SELECT i.generation, i.collection, e.model_name
FROM generations i LEFT JOIN generations e ON e.stage = 'embed' AND e.generation = i.input_generation
WHERE i.stage = 'index' AND i.serving`;
